# PyInstaller entry point of the bundle's kodomo-desktop executable (the same function as the wheel's script).
import sys

from kodomo_desktop.launcher import gui_main

if __name__ == "__main__":
    sys.exit(gui_main())
