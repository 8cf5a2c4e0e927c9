//! Domain types that flow between the pipeline stages. All offsets are Unicode code points,
//! end exclusive (ANNOTATION.md section 2).

use crate::labels::{Sentiment, SpanLabel};
use serde::{Deserialize, Serialize};

/// A document to tag: an id (path or JSONL id) and its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub id: String,
    pub text: String,
}

/// A labelled span (gold).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub label: SpanLabel,
}

/// A sentence with its gold sentiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentenceSentiment {
    pub start: usize,
    pub end: usize,
    pub sentiment: Sentiment,
}

/// A document in the labelled format (section 2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelledDocument {
    pub id: String,
    pub text: String,
    pub spans: Vec<Span>,
    pub sentences: Vec<SentenceSentiment>,
    pub sentiment: Sentiment,
    pub clickbait: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genre: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl LabelledDocument {
    /// The text alone, as the model is given it.
    pub fn unlabelled(&self) -> Document {
        Document { id: self.id.clone(), text: self.text.clone() }
    }

    pub fn char_len(&self) -> usize {
        self.text.chars().count()
    }
    /// The text of a code-point range.
    pub fn slice(&self, start: usize, end: usize) -> String {
        char_slice(&self.text, start, end)
    }
    pub fn has_promo(&self) -> bool {
        self.spans.iter().any(|s| s.label.is_promo())
    }
}

/// A predicted span with its score and surface text (section 3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredSpan {
    pub start: usize,
    pub end: usize,
    pub label: SpanLabel,
    pub score: f32,
    pub text: String,
}

/// A predicted sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredSentence {
    pub start: usize,
    pub end: usize,
    pub sentiment: Sentiment,
    pub score: f32,
}

/// Scores of the three sentiment classes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SentimentScores {
    pub positive: f32,
    pub negative: f32,
    pub neutral: f32,
}

impl SentimentScores {
    pub fn from_probs(p: &[f32]) -> Self {
        SentimentScores {
            positive: p.first().copied().unwrap_or(0.0),
            negative: p.get(1).copied().unwrap_or(0.0),
            neutral: p.get(2).copied().unwrap_or(0.0),
        }
    }
    pub fn get(&self, s: Sentiment) -> f32 {
        match s {
            Sentiment::Positive => self.positive,
            Sentiment::Negative => self.negative,
            Sentiment::Neutral => self.neutral,
        }
    }
}

/// The classifier's output for one document (section 3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub id: String,
    pub sentiment: Sentiment,
    pub sentiment_scores: SentimentScores,
    pub clickbait: f32,
    pub sentences: Vec<ScoredSentence>,
    pub spans: Vec<ScoredSpan>,
}

/// The text of a code-point range of `text` (empty when out of range).
pub fn char_slice(text: &str, start: usize, end: usize) -> String {
    text.chars().skip(start).take(end.saturating_sub(start)).collect()
}
