-- A lost phone is found and revoked in one step: when each device was
-- last seen (its last request, written at most once a minute), when it was
-- last fully synced and how many changes it held unsent, as it last said;
-- and when it confirmed that it wiped itself (after revocation, or after
-- too many wrong PINs).
ALTER TABLE devices ADD COLUMN last_seen_at TEXT;
ALTER TABLE devices ADD COLUMN last_synced_at TEXT;
ALTER TABLE devices ADD COLUMN unsynced_changes INTEGER;
ALTER TABLE devices ADD COLUMN reported_at TEXT;
ALTER TABLE devices ADD COLUMN wiped_at TEXT;
CREATE INDEX devices_by_person ON devices (person_id);
