"""Printed documents (A4 PDFs, IPAex font embedded): assessment sheet, case-conference packet, per-school
information-collection sheet, handover sheet and round statistics. The public entry points are in
``service``; ``base`` holds the shared page template, fonts, 和暦 and masking; ``data`` reads the database."""
