//! News articles and their issuer links, read point-in-time by publication instant.

use super::HistoricalDb;
use super::bulk::{BulkRow, BulkWriter, CellSink, TableSpec, WriteMode};
use super::error::StoreError;
use super::pool::on_pool;
use super::read::read_row;
use super::tx::BeginWrite;
use crate::domain::{IssuerId, NewsArticle, NewsLink};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// An article with the issuers it is linked to.
#[derive(Clone, Debug, PartialEq)]
pub struct NewsItem {
    /// The article.
    pub article: NewsArticle,
    /// Issuers it is about, sorted.
    pub issuers: Vec<IssuerId>,
}

/// News storage.
#[async_trait]
pub trait NewsStore {
    /// Inserts or updates articles by id; the links of every written article are replaced
    /// by `links` (a corrected feed can change the symbols of an article). One transaction.
    async fn write_news(
        &self,
        batch_id: &str,
        articles: &[NewsArticle],
        links: &[NewsLink],
    ) -> Result<(), StoreError>;

    /// Articles published in `[from, as_of]` (about `issuer` when given), by publication
    /// time then id. Nothing published after `as_of` is ever returned.
    async fn news(
        &self,
        issuer: Option<&IssuerId>,
        from: DateTime<Utc>,
        as_of: DateTime<Utc>,
    ) -> Result<Vec<NewsItem>, StoreError>;

    /// Number of stored articles.
    async fn news_count(&self) -> Result<u64, StoreError>;
}

const ARTICLES: TableSpec = TableSpec {
    name: "news_articles",
    columns: &[
        "article_id",
        "published_at",
        "source",
        "headline",
        "body",
        "batch_id",
    ],
    key: &["article_id"],
};
const LINKS: TableSpec = TableSpec {
    name: "news_links",
    columns: &["article_id", "issuer_id", "instrument_id"],
    key: &["article_id", "issuer_id"],
};

struct ArticleRow<'a>(&'a NewsArticle, &'a str);

impl BulkRow for ArticleRow<'_> {
    fn write(&self, s: &mut dyn CellSink) {
        let a = self.0;
        s.text(&a.article_id);
        s.timestamp(Some(a.published_at));
        s.text(&a.source);
        s.text(&a.headline);
        s.text(&a.body);
        s.text(self.1);
    }
}

impl BulkRow for NewsLink {
    fn write(&self, s: &mut dyn CellSink) {
        s.text(&self.article_id);
        s.text(self.issuer_id.as_str());
        s.text(self.instrument_id.as_str());
    }
}

read_row! {
struct NewsRow {
    article_id: String,
    published_at: DateTime<Utc>,
    source: String,
    headline: String,
    body: String,
    issuer_id: Option<String>,
}
}

#[async_trait]
impl NewsStore for HistoricalDb {
    async fn write_news(
        &self,
        batch_id: &str,
        articles: &[NewsArticle],
        links: &[NewsLink],
    ) -> Result<(), StoreError> {
        let rows: Vec<ArticleRow<'_>> = articles.iter().map(|a| ArticleRow(a, batch_id)).collect();
        let tuning = self.tuning;
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query("begin news write"))?;
            tx.write_rows(&ARTICLES, &rows, WriteMode::Upsert, &tuning).await?;
            // Every article of this batch now carries its id: drop their old links so a
            // corrected feed's symbols replace, not add to, what was stored.
            sqlx::query(
                "DELETE FROM news_links WHERE article_id IN \
                 (SELECT article_id FROM news_articles WHERE batch_id = $1)")
                .bind(batch_id)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query("clear article links"))?;
            tx.write_rows(&LINKS, links, WriteMode::Upsert, &tuning).await?;
            tx.commit().await.map_err(StoreError::query("commit news write"))
        })
    }

    async fn news(
        &self,
        issuer: Option<&IssuerId>,
        from: DateTime<Utc>,
        as_of: DateTime<Utc>,
    ) -> Result<Vec<NewsItem>, StoreError> {
        const SQL: &str = "SELECT a.article_id, a.published_at, a.source, a.headline, a.body, l.issuer_id \
             FROM news_articles a LEFT JOIN news_links l ON l.article_id = a.article_id \
             WHERE a.published_at >= $1 AND a.published_at <= $2 \
               AND ($3 IS NULL OR a.article_id IN (SELECT article_id FROM news_links WHERE issuer_id = $3)) \
             ORDER BY a.published_at, a.article_id, l.issuer_id";
        let issuer = issuer.map(|i| i.as_str().to_owned());
        let rows: Vec<NewsRow> = self
            .reads()
            .query_as(SQL)
            .bind(from)
            .bind(as_of)
            .bind(issuer)
            .fetch_all()
            .await
            .map_err(StoreError::query("read news"))?;
        let mut out: Vec<NewsItem> = Vec::new();
        for r in rows {
            let same = out
                .last()
                .is_some_and(|item| item.article.article_id == r.article_id);
            if !same {
                out.push(NewsItem {
                    article: NewsArticle {
                        article_id: r.article_id,
                        published_at: r.published_at,
                        source: r.source,
                        headline: r.headline,
                        body: r.body,
                    },
                    issuers: Vec::new(),
                });
            }
            if let (Some(item), Some(issuer)) = (out.last_mut(), r.issuer_id) {
                item.issuers.push(IssuerId::new(issuer));
            }
        }
        Ok(out)
    }

    async fn news_count(&self) -> Result<u64, StoreError> {
        let n: i64 = on_pool!(&self.pool, p => sqlx::query_scalar("SELECT COUNT(*) FROM news_articles")
            .fetch_one(p)
            .await
            .map_err(StoreError::query("count news"))?);
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
