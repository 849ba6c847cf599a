"""The synthetic demo town (ひなた町, fictional) and its department files, for demos, tests and benchmarks.

``generate_town`` → ``Town`` (persons, households, schools, ground-truth events, ``Town.truth``);
``write_department_files`` → the files departments send + ``sources.csv``, with their truth kept in memory.
Qt-free. ``service.build_demo`` imports, links and scores a town into a database.
"""

from .files import HEADERS_USED, DeptFile, write_department_files
from .town import AS_OF, NoiseProfile, PlantedCase, Town, Truth, generate_town

__all__ = [
    "AS_OF",
    "NoiseProfile",
    "PlantedCase",
    "Town",
    "Truth",
    "generate_town",
    "HEADERS_USED",
    "DeptFile",
    "write_department_files",
]
