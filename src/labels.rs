//! The label sets of ANNOTATION.md as enums, with their serde names and tag indices.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Entity labels (section 1a); PROMO is a separate layer, see [`SpanLabel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EntityLabel {
    #[serde(rename = "ORG")]
    Org,
    #[serde(rename = "PER")]
    Per,
    #[serde(rename = "LOC")]
    Loc,
    #[serde(rename = "PRODUCT")]
    Product,
    #[serde(rename = "INSTRUMENT")]
    Instrument,
    #[serde(rename = "MONEY")]
    Money,
    #[serde(rename = "PERCENT")]
    Percent,
    #[serde(rename = "DATE")]
    Date,
}

impl EntityLabel {
    pub const ALL: [EntityLabel; 8] = [
        EntityLabel::Org,
        EntityLabel::Per,
        EntityLabel::Loc,
        EntityLabel::Product,
        EntityLabel::Instrument,
        EntityLabel::Money,
        EntityLabel::Percent,
        EntityLabel::Date,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            EntityLabel::Org => "ORG",
            EntityLabel::Per => "PER",
            EntityLabel::Loc => "LOC",
            EntityLabel::Product => "PRODUCT",
            EntityLabel::Instrument => "INSTRUMENT",
            EntityLabel::Money => "MONEY",
            EntityLabel::Percent => "PERCENT",
            EntityLabel::Date => "DATE",
        }
    }
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|l| *l == self).unwrap_or(0)
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|l| l.as_str() == s)
    }
    /// BIO tag index: 0 = O, 1 + 2i = B-label, 2 + 2i = I-label.
    pub fn begin_tag(self) -> usize {
        1 + 2 * self.index()
    }
    pub fn inside_tag(self) -> usize {
        2 + 2 * self.index()
    }
    pub const NUM_BIO_TAGS: usize = 1 + 2 * 8;
    /// Inverse of the BIO tag numbering: (label, is_begin) or None for O.
    pub fn from_tag(tag: usize) -> Option<(EntityLabel, bool)> {
        if tag == 0 || tag >= Self::NUM_BIO_TAGS {
            return None;
        }
        Some((Self::ALL[(tag - 1) / 2], (tag - 1) % 2 == 0))
    }
}

/// Any span label of the labelled format: the eight entity labels or PROMO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpanLabel {
    Entity(EntityLabel),
    Promo,
}

impl SpanLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            SpanLabel::Entity(e) => e.as_str(),
            SpanLabel::Promo => "PROMO",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        if s == "PROMO" {
            Some(SpanLabel::Promo)
        } else {
            EntityLabel::parse(s).map(SpanLabel::Entity)
        }
    }
    pub fn is_promo(self) -> bool {
        matches!(self, SpanLabel::Promo)
    }
    pub fn all() -> Vec<SpanLabel> {
        let mut v: Vec<SpanLabel> = EntityLabel::ALL.iter().map(|e| SpanLabel::Entity(*e)).collect();
        v.push(SpanLabel::Promo);
        v
    }
}

impl fmt::Display for SpanLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SpanLabel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SpanLabel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SpanLabel::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown label {s:?}")))
    }
}

/// Sentence and document sentiment (sections 1b, 1c).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sentiment {
    Positive,
    Negative,
    Neutral,
}

impl Sentiment {
    pub const ALL: [Sentiment; 3] = [Sentiment::Positive, Sentiment::Negative, Sentiment::Neutral];
    pub fn index(self) -> usize {
        match self {
            Sentiment::Positive => 0,
            Sentiment::Negative => 1,
            Sentiment::Neutral => 2,
        }
    }
    pub fn from_index(i: usize) -> Sentiment {
        Self::ALL[i.min(2)]
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Sentiment::Positive => "positive",
            Sentiment::Negative => "negative",
            Sentiment::Neutral => "neutral",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|x| x.as_str() == s)
    }
}

impl fmt::Display for Sentiment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn bio_tags_round_trip() {
        for l in EntityLabel::ALL {
            assert_eq!(EntityLabel::from_tag(l.begin_tag()), Some((l, true)));
            assert_eq!(EntityLabel::from_tag(l.inside_tag()), Some((l, false)));
        }
        assert_eq!(EntityLabel::from_tag(0), None);
        assert_eq!(EntityLabel::from_tag(17), None);
    }
    #[test]
    fn serde_names_follow_the_guidelines() {
        let v: Vec<SpanLabel> = serde_json::from_str(r#"["ORG","PROMO","MONEY"]"#).unwrap();
        assert_eq!(v, vec![SpanLabel::Entity(EntityLabel::Org), SpanLabel::Promo, SpanLabel::Entity(EntityLabel::Money)]);
        assert!(serde_json::from_str::<SpanLabel>(r#""FOO""#).is_err());
        assert_eq!(serde_json::to_string(&Sentiment::Neutral).unwrap(), r#""neutral""#);
    }
}
