-- get(key) -> entry or {}
return read_entry(ARGV[3]) or {}
