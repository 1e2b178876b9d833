import { RedisScript } from './redis-script';

/**
 * Token records are Redis hashes of string fields, so these scripts copy and update them without
 * decoding JSON in Lua. Each family has a set of its members' keys, living as long as its
 * longest-lived member, so one call can delete a whole family. Beside it, `<family>:jwts` is a
 * sorted set of the JWT access tokens minted from the family (member `jti`, score `exp`): they are
 * verified offline, so revoking the family hands their ids to the caller for the JWT revocation
 * list.
 */

/**
 * Deletes every member of a family, the family set and its JWT index; the JWTs' `jti, exp` pairs
 * (flat) collect in `revokedJwts`.
 */
const REVOKE_FAMILY = `
local revokedJwts = {}
local function revokeFamily(familyKey)
  for _, key in ipairs(redis.call('SMEMBERS', familyKey)) do redis.call('DEL', key) end
  redis.call('DEL', familyKey)
  local jwts = familyKey .. ':jwts'
  for _, value in ipairs(redis.call('ZRANGE', jwts, 0, -1, 'WITHSCORES')) do revokedJwts[#revokedJwts + 1] = value end
  redis.call('DEL', jwts)
end
`;

/**
 * KEYS: presented refresh token, new access token, new refresh token.
 * ARGV: family key prefix, client id, now (s), access ttl (s), refresh ttl (s), max refresh count,
 *       requested scope ('' keeps the granted scope), proved DPoP key thumbprint and certificate
 *       thumbprint ('' = none proved).
 * A bound refresh token (cnfJkt / cnfX5t) rotates only when the request proved the same key or
 * certificate, and is left unused otherwise (the holder may still use it).
 * Marks the presented token used and writes its successors in one step, so of two concurrent
 * rotations exactly one succeeds; presenting a used token revokes the family (RFC 9700 §4.14.2).
 */
export const ROTATE_REFRESH = new RedisScript(`${REVOKE_FAMILY}
local flat = redis.call('HGETALL', KEYS[1])
if #flat == 0 then return {'unknown_token'} end
local r = {}
for i = 1, #flat, 2 do r[flat[i]] = flat[i + 1] end
if r.clientId ~= ARGV[2] then return {'client_mismatch'} end
if (r.cnfJkt and r.cnfJkt ~= ARGV[8]) or (r.cnfX5t and r.cnfX5t ~= ARGV[9]) then return {'binding_mismatch'} end
local familyKey = ARGV[1] .. r.familyId
if r.used == '1' then
  revokeFamily(familyKey)
  redis.call('DEL', KEYS[1])
  return {'reuse_detected', r.familyId, revokedJwts}
end
local now = tonumber(ARGV[3])
if tonumber(r.expiresAt) <= now then return {'unknown_token'} end
local count = tonumber(r.refreshCount) + 1
if count > tonumber(ARGV[6]) then return {'refresh_limit_reached'} end
local accessScope = r.scope
if ARGV[7] ~= '' then
  local granted = {}
  for s in string.gmatch(r.scope, '%S+') do granted[s] = true end
  for s in string.gmatch(ARGV[7], '%S+') do
    if not granted[s] then return {'scope_not_granted'} end
  end
  accessScope = ARGV[7]
end
redis.call('HSET', KEYS[1], 'used', '1')
local function write(key, overrides, ttl)
  local args = {}
  for field, value in pairs(r) do
    if overrides[field] == nil then args[#args + 1] = field; args[#args + 1] = value end
  end
  for field, value in pairs(overrides) do
    if value ~= false then args[#args + 1] = field; args[#args + 1] = value end
  end
  redis.call('HSET', key, unpack(args))
  redis.call('EXPIRE', key, ttl)
end
local accessTtl, refreshTtl = tonumber(ARGV[4]), tonumber(ARGV[5])
local counted = tostring(count)
local provedJkt, provedX5t = false, false
if ARGV[8] ~= '' then provedJkt = ARGV[8] end
if ARGV[9] ~= '' then provedX5t = ARGV[9] end
write(KEYS[2], { issuedAt = ARGV[3], expiresAt = tostring(now + accessTtl), refreshCount = counted, scope = accessScope, used = false, cnfJkt = provedJkt, cnfX5t = provedX5t }, accessTtl)
write(KEYS[3], { issuedAt = ARGV[3], expiresAt = tostring(now + refreshTtl), refreshCount = counted, used = '0' }, refreshTtl)
redis.call('SADD', familyKey, KEYS[2], KEYS[3])
if redis.call('TTL', familyKey) < refreshTtl then redis.call('EXPIRE', familyKey, refreshTtl) end
return {'rotated', redis.call('HGETALL', KEYS[2]), r.scope}
`);

/**
 * KEYS: the token. ARGV: family key prefix, '1' to revoke the whole family, client id ('' = any).
 * Returns {'revoked', familyId, revokedJwts}, {'unknown_token'} or {'client_mismatch'}: the family
 * id even of an already used refresh token, so the caller can persist a family revocation.
 */
export const REVOKE_TOKEN = new RedisScript(`${REVOKE_FAMILY}
local fields = redis.call('HMGET', KEYS[1], 'familyId', 'clientId')
if not fields[1] then return {'unknown_token'} end
if ARGV[3] ~= '' and fields[2] ~= ARGV[3] then return {'client_mismatch'} end
local familyKey = ARGV[1] .. fields[1]
if ARGV[2] == '1' then
  revokeFamily(familyKey)
else
  redis.call('SREM', familyKey, KEYS[1])
end
redis.call('DEL', KEYS[1])
return {'revoked', fields[1], revokedJwts}
`);

/**
 * KEYS: the token, its family set. ARGV: ttl (s), then the record's field/value pairs.
 * Writes a token record back (from the durable copy, after Redis lost it) unless the key exists:
 * a token Redis still knows, used or not, is never overwritten.
 */
export const RESTORE_TOKEN = new RedisScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local ttl = tonumber(ARGV[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('SADD', KEYS[2], KEYS[1])
if redis.call('TTL', KEYS[2]) < ttl then redis.call('EXPIRE', KEYS[2], ttl) end
return 1
`);

/**
 * KEYS: the client's family index (a set of family ids). ARGV: family key prefix.
 * Revokes every family the client was issued (deletePrevious) and empties the index; returns
 * {revoked family ids, revokedJwts} so the caller can persist the revocations.
 */
export const REVOKE_CLIENT_FAMILIES = new RedisScript(`${REVOKE_FAMILY}
local families = redis.call('SMEMBERS', KEYS[1])
for _, familyId in ipairs(families) do revokeFamily(ARGV[1] .. familyId) end
redis.call('DEL', KEYS[1])
return {families, revokedJwts}
`);

/** KEYS: a family set. Revokes the family (a replayed authorization code); returns revokedJwts. */
export const REVOKE_WHOLE_FAMILY = new RedisScript(`${REVOKE_FAMILY}
revokeFamily(KEYS[1])
return revokedJwts
`);

/**
 * KEYS: a family set, its JWT index. ARGV: jti, exp (epoch s), now (epoch s).
 * Indexes a JWT minted from the family, pruning those that expired; 0 when the family is gone
 * (revoked, or expired): in one step with the revocations above, so a JWT is either indexed
 * before its family is revoked (and handed out then) or refused here.
 */
export const RECORD_JWT = new RedisScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
local ttl = tonumber(ARGV[2]) - tonumber(ARGV[3]) + 1
if redis.call('TTL', KEYS[2]) < ttl then redis.call('EXPIRE', KEYS[2], ttl) end
return 1
`);
