"""Department import: readers (CSV/Excel → Table), values (dates, 和暦, sex, counts, flags), fields (source types,
header dictionaries, mapping detection), parse (Table → canonical records and rejections), service (one batch)."""
