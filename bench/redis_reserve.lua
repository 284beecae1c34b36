-- The Redis peer of stockgrid's stock.reserve, for bench/compare: take `qty`
-- units of one record from `available` into `reserved`, atomically (a script
-- runs alone on the server), refusing when there is not enough.
--
--   KEYS[1]  the record's hash, fields `available` and `reserved`
--   ARGV[1]  qty, a whole number >= 1
-- Returns the new `available`; an error reply NOT_FOUND or INSUFFICIENT_STOCK
-- (stockgrid's outcome names) when the record is missing or too low.
--
-- It does less than stockgrid does for a reserve (no hold id, no expiry, no
-- idempotency key, no history): it is the cheapest correct counter move, the
-- floor any inventory service on Redis would start from.
local available = tonumber(redis.call('HGET', KEYS[1], 'available'))
local qty = tonumber(ARGV[1])
if available == nil then
  return redis.error_reply('NOT_FOUND')
end
if qty == nil or qty < 1 then
  return redis.error_reply('BAD_REQUEST qty')
end
if available < qty then
  return redis.error_reply('INSUFFICIENT_STOCK')
end
redis.call('HINCRBY', KEYS[1], 'reserved', qty)
return redis.call('HINCRBY', KEYS[1], 'available', -qty)
