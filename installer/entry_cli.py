# PyInstaller entry point of the bundle's kodomo-desktop-cli executable (the same function as the wheel's script).
import sys

from kodomo_desktop.cli import console_main

if __name__ == "__main__":
    sys.exit(console_main())
