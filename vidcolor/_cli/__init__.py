"""The command-line interface: parses options and calls one library function per command."""
