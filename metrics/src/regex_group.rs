//! Capture groups and match occurrences: how the `regex` metric picks the
//! text it treats as the answer.

use std::fmt;

use regex::{Captures, Match, Regex};
use serde::{Deserialize, Serialize};

/// A capture group, by index or by name. In TOML: `group = 2` or `group = "answer"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Group {
    /// The group's index; 0 is the whole match.
    Index(usize),
    /// The group's name, from `(?<name>...)`.
    Name(String),
}

impl Group {
    /// Group 1 when the pattern has a capture group, else the whole match.
    pub(crate) fn default_for(regex: &Regex) -> Group {
        // `captures_len` counts the implicit whole-match group 0.
        Group::Index(usize::from(regex.captures_len() > 1))
    }

    /// Whether `regex` has this group.
    pub(crate) fn exists_in(&self, regex: &Regex) -> bool {
        match self {
            Group::Index(i) => *i < regex.captures_len(),
            Group::Name(n) => regex.capture_names().flatten().any(|name| name == n),
        }
    }

    /// This group in a match; `None` when it took no part (an optional group).
    pub(crate) fn get<'t>(&self, captures: &Captures<'t>) -> Option<Match<'t>> {
        match self {
            Group::Index(i) => captures.get(*i),
            Group::Name(name) => captures.name(name),
        }
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Group::Index(i) => write!(f, "{i}"),
            Group::Name(name) => write!(f, "{name:?}"),
        }
    }
}

impl Serialize for Group {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Group::Index(i) => serializer.serialize_u64(*i as u64),
            Group::Name(name) => serializer.serialize_str(name),
        }
    }
}

// Written by hand rather than `#[serde(untagged)]`, whose error ("data did
// not match any variant") would not say what a group may be.
impl<'de> Deserialize<'de> for Group {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Group;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a capture group index (0, 1, ...) or name")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Group, E> {
                usize::try_from(v).map(Group::Index).map_err(|_| E::custom("capture group index is too large"))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Group, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(format!("capture group index {v} is negative; groups count from 0")))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Group, E> {
                Ok(Group::Name(v.to_owned()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Which of several matches is used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Occurrence {
    /// The first (leftmost) match.
    #[default]
    First,
    /// The last match.
    Last,
}

/// "groups 0 (the whole match), 1 and 2 (\"answer\")", for error messages.
pub(crate) fn available_groups(regex: &Regex) -> String {
    let groups: Vec<String> = regex
        .capture_names()
        .enumerate()
        .map(|(i, name)| match (i, name) {
            (0, _) => "0 (the whole match)".to_owned(),
            (i, Some(name)) => format!("{i} ({name:?})"),
            (i, None) => i.to_string(),
        })
        .collect();
    match groups.as_slice() {
        [only] => format!("only group {only}"),
        [init @ .., last] => format!("groups {} and {last}", init.join(", ")),
        [] => "no groups".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regex(pattern: &str) -> Regex {
        Regex::new(pattern).unwrap()
    }

    #[test]
    fn group_parses_from_integers_and_strings() {
        #[derive(Debug, Deserialize)]
        struct W {
            group: Group,
        }
        assert_eq!(toml::from_str::<W>("group = 2").unwrap().group, Group::Index(2));
        assert_eq!(toml::from_str::<W>("group = \"x\"").unwrap().group, Group::Name("x".into()));
        let err = toml::from_str::<W>("group = -1").unwrap_err().to_string();
        assert!(err.contains("negative"), "{err}");
        let err = toml::from_str::<W>("group = 1.5").unwrap_err().to_string();
        assert!(err.contains("capture group index (0, 1, ...) or name"), "{err}");
    }

    #[test]
    fn default_group_is_one_when_there_is_one() {
        assert_eq!(Group::default_for(&regex(r"a(b)")), Group::Index(1));
        assert_eq!(Group::default_for(&regex(r"ab")), Group::Index(0));
        assert_eq!(Group::default_for(&regex(r"a(?:b)")), Group::Index(0));
    }

    #[test]
    fn groups_exist_by_index_and_name() {
        let r = regex(r"(a)(?<x>b)");
        assert!(Group::Index(2).exists_in(&r) && !Group::Index(3).exists_in(&r));
        assert!(Group::Name("x".into()).exists_in(&r) && !Group::Name("y".into()).exists_in(&r));
        let captures = r.captures("zab").unwrap();
        assert_eq!(Group::Name("x".into()).get(&captures).map(|m| m.as_str()), Some("b"));
    }

    #[test]
    fn lists_available_groups() {
        assert_eq!(available_groups(&regex("a")), "only group 0 (the whole match)");
        assert_eq!(available_groups(&regex("(a)")), "groups 0 (the whole match) and 1");
        assert_eq!(available_groups(&regex(r"(a)(?<x>b)")), "groups 0 (the whole match), 1 and 2 (\"x\")");
    }
}
