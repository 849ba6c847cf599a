# PyInstaller entry point of the bundle's kodomo-desktop-cli executable (the same function as the wheel's script).
import sys

from kodomo_desktop.cli import main

if __name__ == "__main__":
    sys.exit(main())
