"""The thin pool's usage in bytes and Docker's free-space gate (reference §3.4, §3.5)."""

from __future__ import annotations

from dataclasses import dataclass

from dmtui.core import dmparse
from dmtui.core.dmparse import METADATA_BLOCK_BYTES


@dataclass(frozen=True, slots=True)
class PoolInfo:
    name: str
    major: int | None
    minor: int | None
    table: dmparse.ThinPoolTable
    status: dmparse.ThinPoolStatus
    min_free_percent: int

    @property
    def data_block_bytes(self) -> int:
        return self.table.data_block_bytes

    def _blocks(self, n: int | None, size: int) -> int | None:
        return None if n is None else n * size

    @property
    def data_used_bytes(self) -> int | None:
        return self._blocks(self.status.data_used_blocks, self.data_block_bytes)

    @property
    def data_total_bytes(self) -> int | None:
        return self._blocks(self.status.data_total_blocks, self.data_block_bytes)

    @property
    def metadata_used_bytes(self) -> int | None:
        return self._blocks(self.status.metadata_used_blocks, METADATA_BLOCK_BYTES)

    @property
    def metadata_total_bytes(self) -> int | None:
        return self._blocks(self.status.metadata_total_blocks, METADATA_BLOCK_BYTES)

    def _min_free_blocks(self, total: int | None) -> int | None:
        if total is None:
            return None
        # Docker: minFree = total*pct/100, at least 1 block (deviceset.go poolHasFreeSpace).
        return max(1, total * self.min_free_percent // 100)

    @property
    def min_free_bytes(self) -> int | None:
        blocks = self._min_free_blocks(self.status.data_total_blocks)
        return None if blocks is None else blocks * self.data_block_bytes

    @property
    def data_free_blocks(self) -> int | None:
        s = self.status
        if s.data_total_blocks is None or s.data_used_blocks is None:
            return None
        return s.data_total_blocks - s.data_used_blocks

    @property
    def metadata_free_blocks(self) -> int | None:
        s = self.status
        if s.metadata_total_blocks is None or s.metadata_used_blocks is None:
            return None
        return s.metadata_total_blocks - s.metadata_used_blocks

    def docker_refusal(self) -> str | None:
        """Why Docker would refuse to create new devices now, or None."""
        data_free, data_min = (
            self.data_free_blocks,
            self._min_free_blocks(self.status.data_total_blocks),
        )
        if data_free is not None and data_min is not None and data_free < data_min:
            return (
                f"Thin Pool has {data_free} free data blocks which is less than minimum "
                f"required {data_min} free data blocks"
            )
        meta_free, meta_min = (
            self.metadata_free_blocks,
            self._min_free_blocks(self.status.metadata_total_blocks),
        )
        if meta_free is not None and meta_min is not None and meta_free < meta_min:
            return (
                f"Thin Pool has {meta_free} free metadata blocks which is less than minimum "
                f"required {meta_min} free metadata blocks"
            )
        return None

    def writable_refusal(self) -> str | None:
        """Why a read-write mount must not happen on this pool (hazard H5), or None."""
        if self.status.mode != "rw":
            return f"the pool is {self.status.mode}, not rw (H5)"
        if self.status.needs_check:
            return "the pool says needs_check: repair its metadata first (H5)"
        return None

    @property
    def dev(self) -> str | None:
        return None if self.major is None else f"{self.major}:{self.minor}"

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "transaction_id": self.status.transaction_id,
            "data_block_bytes": self.data_block_bytes,
            "data_used_bytes": self.data_used_bytes,
            "data_total_bytes": self.data_total_bytes,
            "metadata_used_bytes": self.metadata_used_bytes,
            "metadata_total_bytes": self.metadata_total_bytes,
            "mode": self.status.mode,
            "needs_check": self.status.needs_check,
            "min_free_bytes": self.min_free_bytes,
            "min_free_percent": self.min_free_percent,
            "discard": self.status.discard,
            "no_space_policy": self.status.no_space_policy,
            "held_metadata_root": self.status.held_metadata_root,
            "features": list(self.table.features),
            "docker_refuses_new_devices": self.docker_refusal(),
        }
