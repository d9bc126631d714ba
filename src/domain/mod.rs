//! The domain model at the bottom of the crate: identifiers, the market-data types that
//! storage, ingestion, derived data and the engines exchange, the typed messages of the
//! dataflow edges, and the vocabulary of supervision (run and attempt states, error
//! classes, actor events).

mod clock;
mod fundamentals;
mod ids;
mod market_data;
mod messages;
mod news;
mod reference;
mod supervision;
mod trading;

pub use clock::{Clock, FixedClock};
pub use fundamentals::FundamentalValue;
pub use ids::{ConfigId, InstrumentId, IssuerId, MarketId, RunId};
pub use market_data::{
    DailyBar, FactorValue, InstrumentSeries, ReturnValue, VolatilityValue, date_ceiling, date_floor,
};
pub use messages::{
    ApplyConfig, DerivedUpdated, EffectiveUniverse, EncoderOutput, FragilityReport,
    InstrumentScores, JobDone, JobFailure, JobReport, PanelUpdated, RegimeState, RunJob,
    ScenarioSet, StabilityReport, TargetPortfolio,
};
pub use news::{NewsArticle, NewsLink};
pub use reference::{ASSET_CLASSES, Instrument, InstrumentStatus, Issuer, Market, is_investable};
pub use supervision::{AttemptState, ErrorClass, EventKind, RunStatus};
pub use trading::{OrderPurpose, OrderState, TradingMode};
