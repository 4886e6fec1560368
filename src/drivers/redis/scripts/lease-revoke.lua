-- revokeLease(id): deletes the lease and its keys; an unknown lease is a no-op
revoke(ARGV[3])
return 0
