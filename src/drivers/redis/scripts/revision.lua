-- revision() -> the keyspace revision
return revision()
