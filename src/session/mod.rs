//! The customer's session, on top of [`crate::jose`] and [`crate::options`]:
//!
//! - [`context`]: what a provider answer carries (token, customer, expiry);
//! - [`admit`]: accepting a provider or token-endpoint answer into the session;
//! - [`grant`], [`discovery`], [`fetch_retry`]: the refresh-token grant, the
//!   issuer's metadata and the bounded retry of their fetches;
//! - [`issuer`]: the token checks and the issuer's endpoints, for every host
//!   (keys, discovery, introspection as fetches; the signature the host's);
//! - [`schedule`]: the refresh timing, HTTP dates and the issuer clock offset,
//!   as pure functions of times;
//! - [`machine`]: the session state machine (sans I/O);
//! - [`driver`]: the session driver around it, which makes every decision of
//!   a host (commands in, effects out).

pub mod admit;
pub mod context;
pub mod discovery;
pub mod driver;
pub mod fetch_retry;
pub mod grant;
pub mod issuer;
pub mod machine;
pub mod schedule;

/// Removes and returns `list[at]` (`None` past the end), keeping the order of
/// the rest, like `Vec::remove` but with no panic path: the taken element is
/// swapped to the end one place at a time and popped. The lists it serves are
/// a few entries long.
pub(crate) fn take_at<T>(list: &mut Vec<T>, at: usize) -> Option<T> {
    let (mut hole, rest) = list.get_mut(at..)?.split_first_mut()?;
    for next in rest {
        std::mem::swap(hole, next);
        hole = next;
    }
    list.pop()
}

/// Removes every element `doomed` picks, keeping the order of the rest: for
/// the driver's short lists, instead of `Vec::retain`, whose panic-safe
/// back-shifting costs the wasm build ~200 B per element type.
pub(crate) fn remove_all<T>(list: &mut Vec<T>, mut doomed: impl FnMut(&T) -> bool) {
    while let Some(at) = list.iter().position(&mut doomed) {
        take_at(list, at);
    }
}

#[cfg(test)]
mod tests {
    use super::{remove_all, take_at};

    #[test]
    fn take_at_is_vec_remove_without_the_panic() {
        for len in 0..6 {
            for at in 0..8 {
                let mut taken: Vec<u32> = (0..len).collect();
                let mut removed = taken.clone();
                let expected = (at < removed.len()).then(|| removed.remove(at));
                assert_eq!(take_at(&mut taken, at), expected, "len {len}, at {at}");
                assert_eq!(taken, removed, "len {len}, at {at}");
            }
        }
    }

    #[test]
    fn remove_all_is_retain_of_the_rest() {
        let lists: [&[u32]; 5] = [&[], &[1], &[2], &[1, 2, 1, 3, 1], &[2, 2, 3, 2]];
        for list in lists {
            let mut removed = list.to_vec();
            remove_all(&mut removed, |&x| x == 2);
            let mut kept = list.to_vec();
            kept.retain(|&x| x != 2);
            assert_eq!(removed, kept, "{list:?}");
        }
    }
}
