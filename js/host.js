// Small host primitives for auth.fetch (src/bindings/transport.rs): plain JS where
// web-sys would need one binding per type.

/** Whether `init.body` can be sent twice as it is (no stream, nothing consumed). */
export function replayableBody(init) {
  const body = init == null ? undefined : init.body;
  return (
    body == null ||
    typeof body === 'string' ||
    body instanceof URLSearchParams ||
    (typeof Blob !== 'undefined' && body instanceof Blob) ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    (typeof FormData !== 'undefined' && body instanceof FormData)
  );
}

/** A shallow copy of `init` with `headers` set over its own (and `redirect: 'manual'`). */
export function withHeaders(init, headers, manual) {
  const out = Object.assign({}, init);
  const merged = new Headers(out.headers);
  for (const name of Object.keys(headers)) merged.set(name, headers[name]);
  out.headers = merged;
  if (manual) out.redirect = 'manual';
  return out;
}
