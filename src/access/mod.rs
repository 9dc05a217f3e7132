//! Who may act on the platform (Art. 20–23): staff roles by duty and their scopes, the
//! principal every request resolves to, the one policy table, and the credentials of staff
//! accounts. Pure: the store keeps accounts (`store/accounts.rs`), the service signs people in
//! (`accounts.rs`), the server and CLI enforce the table.

pub mod model;
pub mod policy;
pub mod secret;

pub use model::{
    AccountStatus, Grant, Principal, PrincipalKind, Role, Scope, Via, account_id_problem, region_within,
};
pub use policy::{Access, Entry, POLICY, ScopeRule, Surface};
