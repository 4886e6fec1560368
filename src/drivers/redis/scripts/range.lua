-- range(prefix, min, limit) -> {revision, more, entry...}, read at one revision
return range(ARGV[3], ARGV[4], tonumber(ARGV[5]))
