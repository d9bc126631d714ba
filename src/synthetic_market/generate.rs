//! The generator itself.

use super::names::{SECTORS, company, symbol};
use super::news::{NewsWriter, ShockDay};
use super::params::ValidParams;
use crate::domain::{
    DailyBar, Instrument, InstrumentId, InstrumentSeries, InstrumentStatus, Issuer, IssuerId,
    NewsArticle, NewsLink,
};
use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, StudentT};

/// The hidden state of the synthetic economy on one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HiddenRegime {
    /// Low volatility, positive drift.
    Calm,
    /// Higher volatility, slightly negative drift.
    Stressed,
    /// Very high volatility, strongly negative drift, fragile names hit hardest.
    Crisis,
}

impl HiddenRegime {
    const ALL: [Self; 3] = [Self::Calm, Self::Stressed, Self::Crisis];

    /// Lower-case label as stored in `synthetic_regimes`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Calm => "calm",
            Self::Stressed => "stressed",
            Self::Crisis => "crisis",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The latent traits of one instrument (ground truth, never stored as an input).
#[derive(Clone, Debug, PartialEq)]
pub struct InstrumentTraits {
    /// Which instrument.
    pub instrument_id: InstrumentId,
    /// Its sector.
    pub sector: String,
    /// Market beta in calm regimes.
    pub beta: f64,
    /// 0 = robust, 1 = fragile: raises beta, idiosyncratic volatility and jump odds under stress.
    pub fragility: f64,
    /// Daily idiosyncratic volatility in calm regimes.
    pub idio_vol: f64,
}

/// A generated market with its ground truth.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticMarket {
    /// One issuer per instrument.
    pub issuers: Vec<Issuer>,
    /// The instruments.
    pub instruments: Vec<Instrument>,
    /// Daily bars, one series per instrument.
    pub series: Vec<InstrumentSeries>,
    /// News articles.
    pub news: Vec<NewsArticle>,
    /// Links of articles to issuers.
    pub news_links: Vec<NewsLink>,
    /// The hidden regime of every session.
    pub regime_path: Vec<(NaiveDate, HiddenRegime)>,
    /// Each instrument's latent traits.
    pub traits: Vec<InstrumentTraits>,
}

/// Random streams: 0 = regime path, 1 = factors, 2 + i = instrument i.
fn stream(seed: u64, n: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(n);
    rng
}

/// A unit-variance Student-t sampler.
struct UnitT {
    t: StudentT<f64>,
    scale: f64,
}

impl UnitT {
    fn new(dof: f64) -> Self {
        let t =
            StudentT::new(dof).expect("tail_dof > 2 is guaranteed by SyntheticMarketParams::check");
        Self {
            t,
            scale: ((dof - 2.0) / dof).sqrt(),
        }
    }
    fn sample(&self, rng: &mut ChaCha8Rng) -> f64 {
        self.t.sample(rng) * self.scale
    }
}

fn regime_path(p: &ValidParams, n: usize) -> Vec<HiddenRegime> {
    let mut rng = stream(p.get().seed, 0);
    let tm = &p.get().dynamics.transition;
    let mut state = HiddenRegime::Calm;
    (0..n)
        .map(|i| {
            if i > 0 {
                let u: f64 = rng.random();
                let row = &tm[state.index()];
                let mut acc = 0.0;
                let mut next = HiddenRegime::Crisis;
                for r in HiddenRegime::ALL {
                    acc += row[r.index()];
                    if u < acc {
                        next = r;
                        break;
                    }
                }
                state = next;
            }
            state
        })
        .collect()
}

/// Market factor and sector factor log returns per session.
fn factors(p: &ValidParams, regimes: &[HiddenRegime]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let prm = p.get();
    let mut rng = stream(prm.seed, 1);
    let t = UnitT::new(prm.tail_dof);
    let d = &prm.dynamics;
    let mut market = Vec::with_capacity(regimes.len());
    let mut sectors = vec![Vec::with_capacity(regimes.len()); prm.sectors];
    for r in regimes {
        let k = r.index();
        market.push(d.market_drift[k] + d.market_vol[k] * t.sample(&mut rng));
        for s in &mut sectors {
            s.push(d.sector_vol[k] * t.sample(&mut rng));
        }
    }
    (market, sectors)
}

/// Generates the market on the given sessions (ascending, unique).
pub fn generate(params: &ValidParams, sessions: &[NaiveDate]) -> SyntheticMarket {
    let prm = params.get();
    let regimes = regime_path(params, sessions.len());
    let (market_factor, sector_factors) = factors(params, &regimes);
    let tdist = UnitT::new(prm.tail_dof);
    let normal = Normal::new(0.0, 1.0).expect("unit normal parameters are valid");
    let d = &prm.dynamics;
    let mut out = SyntheticMarket {
        issuers: Vec::with_capacity(prm.instruments),
        instruments: Vec::with_capacity(prm.instruments),
        series: Vec::with_capacity(prm.instruments),
        news: Vec::new(),
        news_links: Vec::new(),
        regime_path: sessions
            .iter()
            .copied()
            .zip(regimes.iter().copied())
            .collect(),
        traits: Vec::with_capacity(prm.instruments),
    };
    for i in 0..prm.instruments {
        let mut rng = stream(prm.seed, 2 + i as u64);
        let sym = symbol(i);
        let id = InstrumentId::of(&prm.market, &sym);
        let sector_idx = rng.random_range(0..prm.sectors);
        let beta = rng.random_range(0.6..1.4);
        let fragility: f64 = rng.random();
        let idio_vol = rng.random_range(0.008..0.022);
        let base_volume = rng.random_range(12.0f64..16.5).exp();
        let mut close: f64 = rng.random_range(10f64.ln()..300f64.ln()).exp();
        let name = company(i);
        let mut news = NewsWriter::new(&id, &name, prm.seed);
        let mut bars = Vec::with_capacity(sessions.len());
        for (t, (&date, regime)) in sessions.iter().zip(&regimes).enumerate() {
            let k = regime.index();
            let stress = match regime {
                HiddenRegime::Calm => 0.0,
                HiddenRegime::Stressed => 0.5,
                HiddenRegime::Crisis => 1.0,
            };
            let beta_eff = beta * (1.0 + 0.8 * fragility * stress);
            let idio_sd = idio_vol * d.idio_scale[k] * (1.0 + 0.5 * fragility * stress);
            let z = tdist.sample(&mut rng);
            let jump_odds = d.jump_probability[k] * (1.0 + 2.0 * fragility);
            let jump = if rng.random::<f64>() < jump_odds {
                -0.04 * (1.0 + fragility) + 0.05 * normal.sample(&mut rng)
            } else {
                0.0
            };
            let idio = idio_sd * z + jump;
            let r = if t == 0 {
                0.0
            } else {
                beta_eff * market_factor[t] + sector_factors[sector_idx][t] + idio
            };
            let day_sd = (beta_eff * beta_eff * d.market_vol[k].powi(2)
                + d.sector_vol[k].powi(2)
                + idio_sd * idio_sd)
                .sqrt();
            let prev = close;
            close = prev * r.exp();
            let gap = r * rng.random_range(0.0..0.5) + 0.1 * day_sd * normal.sample(&mut rng);
            let open = prev * gap.exp();
            let high = open.max(close) * (0.4 * day_sd * normal.sample(&mut rng).abs()).exp();
            let low = open.min(close) * (-0.4 * day_sd * normal.sample(&mut rng).abs()).exp();
            let shock = (idio / idio_sd).abs().min(8.0);
            let log_volume = base_volume.ln()
                + 0.25 * shock
                + d.volume_boost[k]
                + 0.25 * normal.sample(&mut rng);
            bars.push(DailyBar {
                trade_date: date,
                open: Some(open),
                high: Some(high),
                low: Some(low),
                close: Some(close),
                adj_close: close,
                volume: Some(log_volume.exp().round()),
            });
            if prm.news_rate > 0.0 {
                let rate = prm.news_rate * d.news_scale[k] * (1.0 + 2.0 * shock.min(5.0));
                news.maybe_publish(
                    &mut rng,
                    ShockDay {
                        date,
                        rate,
                        idio_return: idio,
                        total_return: r,
                    },
                );
            }
        }
        let (articles, links) = news.finish();
        out.news.extend(articles);
        out.news_links.extend(links);
        let sector = SECTORS[sector_idx].to_owned();
        out.issuers.push(Issuer {
            issuer_id: IssuerId::new(&sym),
            name,
            sector: Some(sector.clone()),
            industry: None,
            country: Some("US".into()),
        });
        out.instruments.push(Instrument {
            instrument_id: id.clone(),
            issuer_id: IssuerId::new(&sym),
            market_id: prm.market.clone(),
            symbol: sym,
            asset_class: "equity".into(),
            currency: "USD".into(),
            status: InstrumentStatus::Active,
        });
        out.traits.push(InstrumentTraits {
            instrument_id: id.clone(),
            sector,
            beta,
            fragility,
            idio_vol,
        });
        out.series.push(InstrumentSeries {
            instrument_id: id,
            bars,
        });
    }
    out.news.sort_by(|a, b| {
        a.published_at
            .cmp(&b.published_at)
            .then_with(|| a.article_id.cmp(&b.article_id))
    });
    out
}
