//! The config and wire names of the algorithm enums, each written once (in `Named::name`) and
//! parsed in one place: `Display`, `FromStr` and serde all go through the same table, and an
//! unknown name is refused with the names that are allowed.

/// An algorithm enum whose values have one config name each.
pub trait Named: Copy + PartialEq + 'static {
    /// What the values are, for messages (`MAC algorithm`).
    const KIND: &'static str;
    /// Every value, in the order messages list them.
    const ALL: &'static [Self];
    /// The name operators write in config files and peers send on the wire.
    fn name(self) -> &'static str;
}

/// A name that is not one of an enum's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {given:?}; use one of: {allowed}")]
pub struct UnknownName {
    kind: &'static str,
    given: String,
    allowed: String,
}

/// The value named `text` (exactly as written).
pub(crate) fn parse<T: Named>(text: &str) -> Result<T, UnknownName> {
    T::ALL
        .iter()
        .copied()
        .find(|value| value.name() == text)
        .ok_or_else(|| UnknownName {
            kind: T::KIND,
            given: text.to_owned(),
            allowed: T::ALL.iter().map(|v| v.name()).collect::<Vec<_>>().join(", "),
        })
}

/// `Display`, `FromStr`, `Serialize` and `Deserialize` of a `Named` enum, by its names.
macro_rules! by_name {
    ($ty:ty) => {
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($crate::names::Named::name(*self))
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::names::UnknownName;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                $crate::names::parse(text)
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str($crate::names::Named::name(*self))
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                $crate::names::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use by_name;

#[cfg(test)]
mod tests {
    use crate::{Cipher, MacAlgorithm, Signature};

    #[test]
    fn names_round_trip_and_unknown_ones_list_the_allowed() {
        for name in ["hmac-sha256", "hmac-sm3"] {
            assert_eq!(name.parse::<MacAlgorithm>().unwrap().to_string(), name);
        }
        for name in ["aes-256-gcm", "sm4-gcm"] {
            assert_eq!(name.parse::<Cipher>().unwrap().to_string(), name);
        }
        for name in ["hmac-sha256", "hmac-sm3", "ed25519"] {
            assert_eq!(name.parse::<Signature>().unwrap().to_string(), name);
        }
        let err = "hmac-md5".parse::<MacAlgorithm>().unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown MAC algorithm \"hmac-md5\"; use one of: hmac-sha256, hmac-sm3"
        );
        let parsed: Cipher = serde_json::from_str("\"sm4-gcm\"").unwrap();
        assert_eq!(parsed, Cipher::Sm4Gcm);
        let err = serde_json::from_str::<Cipher>("\"des\"").unwrap_err().to_string();
        assert!(err.contains("use one of: aes-256-gcm, sm4-gcm"), "{err}");
        assert_eq!(serde_json::to_string(&Signature::Ed25519).unwrap(), "\"ed25519\"");
    }
}
