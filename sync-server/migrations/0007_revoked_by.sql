-- Who revoked a device, kept beside the revocation: the admin's devices
-- screen says it (the audit log did already). The revoking device's id, or
-- 'command line' for the admin CLI; NULL for revocations made before this.
ALTER TABLE devices ADD COLUMN revoked_by TEXT;
