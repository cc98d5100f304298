//! The context provider's calls, each with an `AbortSignal`.

use super::*;

impl Host {
    pub(super) fn call_provider(self: &Rc<Self>, call: Call) {
        // A new call supersedes the earlier ones; aborted out of the cell.
        abort_all(self.abort.take());
        // Stored before the provider runs, so a call started during that
        // run (a handler's `getToken`) neither loses nor overwrites it.
        let controller = web_sys::AbortController::new().ok();
        if let Some(c) = &controller {
            self.abort.borrow_mut().push((call.id, c.clone()));
        }
        let provider = self.provider.borrow().clone();
        let ok = self.answer_ok.borrow().as_ref().map(|c| c.as_ref().clone());
        let err = self
            .answer_err
            .borrow()
            .as_ref()
            .map(|c| c.as_ref().clone());
        let failure = match (provider, ok, err) {
            (Some(p), Some(ok), Some(err)) => {
                let threw = call_provider_js(
                    &p,
                    &ok,
                    &err,
                    call.id as f64,
                    call.needs_refresh,
                    call.reason.as_str(),
                    call.deadline as f64,
                    controller,
                );
                if !threw {
                    return;
                }
                ProviderFailure::Threw
            }
            _ => ProviderFailure::Missing,
        };
        self.feed(Input::ProviderFailed {
            call: call.id,
            failure,
        });
    }
}
