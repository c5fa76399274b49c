// The offline copy of the app: on install it keeps every file of this build (the shell, the
// WebAssembly core) and answers the app's requests from that copy first, so the app opens with
// no network. The data is not here: it lives in the core's store. A new build (a new `BUILD`)
// replaces the copy; the relay's other pages are never cached.

declare const BUILD: string;
declare const FILES: string[];

const sw = globalThis as unknown as ServiceWorkerGlobalScope;
const CACHE = `groundwork-app-${BUILD}`;

sw.addEventListener("install", (event: ExtendableEvent) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(FILES.map((f) => new URL(f, sw.registration.scope).href)))
      .then(() => sw.skipWaiting()),
  );
});

sw.addEventListener("activate", (event: ExtendableEvent) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("groundwork-app-") && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => sw.clients.claim()),
  );
});

sw.addEventListener("fetch", (event: FetchEvent) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || !url.href.startsWith(sw.registration.scope)) return;
  // The app's own pages open the shell (index.html), whatever follows the scope.
  const key = FILES.some((f) => url.pathname.endsWith(`/${f}`)) ? url.href : new URL("index.html", sw.registration.scope).href;
  event.respondWith(caches.match(key, { ignoreSearch: true }).then((hit) => hit ?? fetch(event.request)));
});
