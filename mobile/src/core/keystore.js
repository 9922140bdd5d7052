// The browser's platform key (see keystore.rs): an AES-GCM key made by
// WebCrypto with `extractable: false`, kept as a CryptoKey object in its own
// IndexedDB database. Script on the page can use it but never read its
// bytes, so the PIN-wrapped data key copied out of the store is useless
// away from this browser profile.

const DB = 'fieldvisit-keystore';
const KEYS = 'keys';
const ID = 'device';

function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function open() {
  const request = indexedDB.open(DB, 1);
  request.onupgradeneeded = () => request.result.createObjectStore(KEYS);
  return done(request);
}

/** Whether this page can keep a platform key at all (WebCrypto exists only
 * in secure contexts: https, or localhost). */
export function platform_key_available() {
  return !!(globalThis.crypto && globalThis.crypto.subtle && globalThis.indexedDB);
}

/** The device's key, or null. With `create`, a new one replaces any other,
 * committed with strict durability before this resolves. */
export async function platform_key(create) {
  const db = await open();
  try {
    if (!create) {
      const key = await done(db.transaction(KEYS).objectStore(KEYS).get(ID));
      return key ?? null;
    }
    const key = await crypto.subtle.generateKey(
      { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
    const tx = db.transaction(KEYS, 'readwrite', { durability: 'strict' });
    tx.objectStore(KEYS).put(key, ID);
    await new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error('the key was not kept'));
    });
    return key;
  } finally {
    db.close();
  }
}

export async function platform_seal(key, iv, plain, context) {
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: context }, key, plain);
  return new Uint8Array(sealed);
}

export async function platform_open(key, iv, sealed, context) {
  const plain = await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv, additionalData: context }, key, sealed);
  return new Uint8Array(plain);
}

/** Deletes the key's database; resolves once IndexedDB has. */
export function forget_platform_key() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(DB);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error);
    // Another tab holding it open: its close follows its versionchange.
    request.onblocked = () => {};
  });
}
