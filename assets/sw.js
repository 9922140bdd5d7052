// The offline app shell. Every file the app needs to start is cached when
// this worker installs; afterwards the app starts from the cache whether or
// not there is a network. The API (photos included, under /api/blobs/) and
// sync always go to the network: records live in the app's own store, never
// in this cache.
//
// scripts/build-web replaces BUILD with a hash of the built files, so a new
// build installs a new cache and removes the old one, and lists every file
// of the build below the marker line.
const CACHE = 'fieldvisit-shell-BUILD';
const SHELL = [
  '/',
  // FILES
];
const NETWORK_ONLY = ['/api/', '/sync', '/health'];

// The page registers this worker once the app has started, so what it
// caches is what the page has just downloaded: `no-cache` asks the server
// whether each file is still the one in the browser's HTTP cache (a 304 with
// no body) and downloads only what changed, never a file of another build.
self.addEventListener('install', event => {
  event.waitUntil(
    caches.open(CACHE)
      .then(cache => cache.addAll(SHELL.map(path => new Request(path, { cache: 'no-cache' }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', event => {
  event.waitUntil(
    caches.keys()
      .then(keys => Promise.all(keys.filter(k => k.startsWith('fieldvisit-shell-') && k !== CACHE).map(k => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', event => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (NETWORK_ONLY.some(prefix => url.pathname.startsWith(prefix))) return;
  // Screens are URL fragments, so every navigation is the one page, cached
  // as '/'.
  const key = request.mode === 'navigate' ? '/' : request;
  event.respondWith(
    caches.open(CACHE)
      .then(cache => cache.match(key, { ignoreSearch: true }))
      .then(hit => hit || fetch(request)),
  );
});
