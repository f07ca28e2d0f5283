from dmtui.cli.main import entry

entry()
