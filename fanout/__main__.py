from fanout.cli import entry

entry()
