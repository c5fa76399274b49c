// The store key at rest: 32 random bytes that unlock the SQLCipher store in OPFS, kept only
// sealed (AES-GCM) by a WebCrypto key that cannot be exported, which IndexedDB holds as a
// CryptoKey object. The OPFS files alone reveal nothing; script on this origin can use the key
// (as the app must) but not read it out. `forgetStoreKey` is half of a wipe.

const DB = "groundwork-keys";
const STORE = "keys";
const ENTRY = "store";

interface Sealed {
  wrapping: CryptoKey;
  iv: Uint8Array<ArrayBuffer>;
  sealed: ArrayBuffer;
}

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

async function database(): Promise<IDBDatabase> {
  const open = indexedDB.open(DB, 1);
  open.onupgradeneeded = () => open.result.createObjectStore(STORE);
  return request(open);
}

/** The store key, made (and sealed) the first time. */
export async function storeKey(): Promise<Uint8Array> {
  const db = await database();
  try {
    const read = db.transaction(STORE, "readonly").objectStore(STORE);
    const found = (await request(read.get(ENTRY))) as Sealed | undefined;
    if (found) {
      const raw = await crypto.subtle.decrypt({ name: "AES-GCM", iv: found.iv }, found.wrapping, found.sealed);
      return new Uint8Array(raw);
    }
    const key = crypto.getRandomValues(new Uint8Array(32));
    const wrapping = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
      "encrypt",
      "decrypt",
    ]);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, wrapping, key);
    const write = db.transaction(STORE, "readwrite");
    write.objectStore(STORE).put({ wrapping, iv, sealed } satisfies Sealed, ENTRY);
    await new Promise<void>((resolve, reject) => {
      write.oncomplete = () => resolve();
      write.onerror = () => reject(write.error);
    });
    return key;
  } finally {
    db.close();
  }
}

/** Deletes the sealed key and its wrapping key: what the store held cannot be opened again. */
export async function forgetStoreKey(): Promise<void> {
  await request(indexedDB.deleteDatabase(DB));
}
