//! What the validator remembers of each account, and where it keeps it.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;

use atproto_core::Cid;
use atproto_core::syntax::{Did, Tid};

/// One account's state, as the validator last left it.
///
/// `rev`, `data` and `commit` are the last accepted commit (or `#sync`);
/// they are `None` until the account's first one (an account seen only in
/// `#identity`/`#account` events so far).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountState {
    /// The last commit's rev; every later commit's rev must be greater.
    pub rev: Option<Tid>,
    /// The last commit's MST root: the next `#commit`'s `prevData`.
    pub data: Option<Cid>,
    /// The last commit's CID.
    pub commit: Option<Cid>,
    /// Whether the account is active (the last `#account` said so, or none
    /// was seen). Commits of an inactive account are rejected.
    pub active: bool,
    /// Why it is not active, as the last `#account` said (`takendown`,
    /// `suspended`, `deleted`, `deactivated`, `desynchronized`, `throttled`,
    /// or another).
    pub status: Option<String>,
    /// The handle the last `#identity` gave, if it gave one.
    pub handle: Option<String>,
    /// The firehose skipped something for this account (a `since` or
    /// `prevData` that did not match): its state is not to be trusted until
    /// a `#sync` event, or the caller's resync through `getRepo` and
    /// [`Validator::resynced`](super::Validator::resynced).
    pub desynchronized: bool,
}

impl Default for AccountState {
    /// No commit yet, active, not desynchronized.
    fn default() -> Self {
        AccountState {
            rev: None,
            data: None,
            commit: None,
            active: true,
            status: None,
            handle: None,
            desynchronized: false,
        }
    }
}

/// Why an [`AccountStore`] could not read or write (the backend's error is
/// the source).
#[derive(Debug, thiserror::Error)]
#[error("account store: {0}")]
pub struct StoreError(pub Box<dyn core::error::Error + Send + Sync>);

/// Where the validator keeps each account's [`AccountState`]: in memory
/// ([`MemoryAccountStore`]), or a database the caller plugs in.
///
/// The validator reads an account's state once per event and writes it
/// once when the event changes it; a rejected event writes nothing.
pub trait AccountStore {
    /// The state of `did`, or `None` if the account was never seen.
    ///
    /// # Errors
    /// [`StoreError`] if the backend failed.
    fn get(&self, did: &Did) -> Result<Option<AccountState>, StoreError>;

    /// Replaces the state of `did`.
    ///
    /// # Errors
    /// [`StoreError`] if the backend failed.
    fn put(&mut self, did: &Did, state: AccountState) -> Result<(), StoreError>;
}

impl<S: AccountStore + ?Sized> AccountStore for &mut S {
    fn get(&self, did: &Did) -> Result<Option<AccountState>, StoreError> {
        (**self).get(did)
    }

    fn put(&mut self, did: &Did, state: AccountState) -> Result<(), StoreError> {
        (**self).put(did, state)
    }
}

/// An [`AccountStore`] in memory, ordered by DID. It never fails.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryAccountStore {
    accounts: BTreeMap<Did, AccountState>,
}

impl MemoryAccountStore {
    /// An empty store.
    pub const fn new() -> Self {
        MemoryAccountStore {
            accounts: BTreeMap::new(),
        }
    }

    /// The state of `did`, borrowed.
    pub fn state(&self, did: &Did) -> Option<&AccountState> {
        self.accounts.get(did)
    }

    /// Every account and its state, in DID order.
    pub fn iter(&self) -> impl Iterator<Item = (&Did, &AccountState)> {
        self.accounts.iter()
    }

    /// How many accounts are known.
    pub fn len(&self) -> usize {
        self.accounts.len()
    }

    /// Whether no account is known.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }
}

impl AccountStore for MemoryAccountStore {
    fn get(&self, did: &Did) -> Result<Option<AccountState>, StoreError> {
        Ok(self.accounts.get(did).cloned())
    }

    fn put(&mut self, did: &Did, state: AccountState) -> Result<(), StoreError> {
        match self.accounts.get_mut(did) {
            Some(slot) => *slot = state,
            None => {
                self.accounts.insert(did.clone(), state);
            }
        }
        Ok(())
    }
}
