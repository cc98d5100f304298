//! The pending requests' promises: a [`Reply`] resolves or rejects one.

use super::*;

impl Host {
    pub(super) fn reply(self: &Rc<Self>, request: RequestId, reply: Reply) {
        let pending = {
            let mut all = self.pending.borrow_mut();
            let Some(i) = all.iter().position(|(id, _)| *id == request) else {
                return;
            };
            let keep = matches!(
                reply,
                Reply::Plain | Reply::Send { .. } | Reply::Replay { .. }
            );
            if keep {
                // Still pending: send it, the answer comes later.
                let fetch = all[i].1.fetch.take();
                drop(all);
                if let Some(fetch) = fetch {
                    let host = self.clone();
                    transport::send(request, fetch, reply, move |fetch, input| {
                        host.park(request, fetch);
                        host.feed(input);
                    });
                }
                return;
            }
            all.remove(i).1
        };
        let Pending {
            resolve,
            reject,
            fetch,
        } = pending;
        let outcome = match reply {
            Reply::Done => Ok(JsValue::UNDEFINED),
            Reply::Token(token) => Ok(token.map_or(JsValue::NULL, |t| t.secret().into())),
            Reply::Headers(headers) => {
                let out = Object::new();
                for (name, value) in headers {
                    js::set(&out, &name, &value.secret().into());
                }
                Ok(out.into())
            }
            Reply::Response => Ok(fetch.and_then(|f| f.response).unwrap_or(JsValue::UNDEFINED)),
            Reply::Rethrow => Err(fetch.and_then(|f| f.error).unwrap_or(JsValue::UNDEFINED)),
            Reply::Reject(e) => Err(js::to_js(&e)),
            Reply::Plain | Reply::Send { .. } | Reply::Replay { .. } => return,
        };
        report(match outcome {
            Ok(v) => resolve.call1(&JsValue::NULL, &v),
            Err(e) => reject.call1(&JsValue::NULL, &e),
        });
    }

    /// Puts `fetch` back as request `id`'s state once it is off the wire.
    pub(super) fn park(&self, id: RequestId, fetch: Box<FetchCall>) {
        if let Some((_, p)) = self.pending.borrow_mut().iter_mut().find(|(r, _)| *r == id) {
            p.fetch = Some(fetch);
        }
    }
}
