//! The config unit (SPEC P4, P6; sidecar `config`): `wasi:config/store`, answering with the
//! values granted to the plugin, `${VAR}` already resolved at load. A plugin with no `config`
//! grant sees an empty store: every key is absent, as in any environment that sets none.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use super::{Capability, Getter, Guest, HostState, Shared};
use crate::config::Grants;
use crate::plugin::bindings::wasi::config::store;

/// Plugin config for every plugin; each sees only its own grant.
pub(crate) struct Config;

/// One instance's view: the plugin's grants, shared by all its instances.
pub(crate) struct ConfigState {
    grants: Arc<Grants>,
}

impl Capability for Config {
    type State = ConfigState;

    fn add_to_linker(linker: &mut Linker<HostState>, get: Getter<Self>) -> wasmtime::Result<()> {
        store::add_to_linker::<_, HasSelf<ConfigState>>(linker, get)
    }

    fn prepare(_shared: &Shared, guest: &Guest<'_>) -> ConfigState {
        ConfigState {
            grants: guest.grants.clone(),
        }
    }
}

impl store::Host for ConfigState {
    fn get(&mut self, key: String) -> Result<Option<String>, store::Error> {
        Ok(self.grants.config.get(&key).map(|v| v.expose().to_owned()))
    }

    fn get_all(&mut self) -> Result<Vec<(String, String)>, store::Error> {
        Ok(self
            .grants
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.expose().to_owned()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::Limits;
    use crate::plugin::host::prepared;

    fn state(grants: Grants) -> ConfigState {
        prepared::<Config>(&Shared::for_tests(), "p", &Limits::default(), grants)
    }

    #[test]
    fn p4_config_without_a_grant_is_empty() {
        let mut config = state(Grants::default());
        assert_eq!(
            store::Host::get(&mut config, "upstream".into()).ok(),
            Some(None)
        );
        assert_eq!(store::Host::get_all(&mut config).ok(), Some(Vec::new()));
    }

    #[test]
    fn p6_config_answers_the_granted_values() {
        let mut config = state(Grants {
            config: BTreeMap::from([("a".to_owned(), "1".into()), ("b".to_owned(), "2".into())]),
            ..Grants::default()
        });
        assert_eq!(
            store::Host::get(&mut config, "a".into()).ok(),
            Some(Some("1".to_owned()))
        );
        assert_eq!(store::Host::get(&mut config, "c".into()).ok(), Some(None));
        let all = store::Host::get_all(&mut config).ok();
        assert_eq!(
            all,
            Some(vec![("a".into(), "1".into()), ("b".into(), "2".into())])
        );
    }
}
