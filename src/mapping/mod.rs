//! Mappings turn a legacy system's raw records into canonical cases. `config` is the TOML an
//! engineer reviews (`mappings/SYSTEM.toml`); `engine` compiles and applies it; `schema` lists
//! the canonical fields it can fill; `path` reads the records; `assemble` builds the case;
//! `generate` proposes a config from a probe profile, reading legacy codes through `vocabulary`;
//! `drift` compares a fresh probe profile with the stored one and names the rules a change breaks;
//! `record` describes the XML record a mapping reads (the write-back WSDL's typed record).

mod assemble;
pub mod config;
mod drift;
mod engine;
mod generate;
mod path;
mod profiled;
mod record;
pub mod schema;
mod vocabulary;

pub use self::config::{MappingConfig, OrgField, Rule, Shape};
pub use drift::{Change, Drift, drift};
pub use engine::{Mapping, MappingError, MappingIssue};
pub use generate::{DraftTable, Proposal, Proposed, initials, propose, render};
pub use profiled::{UnknownPath, unknown_paths};
pub use record::{Read, RecordElement, XmlRecord, XsdType, is_xml_name, xml_record};
