//! Representations: encoder models, numeric / text / issuer / joint vectors (historical)
//! and issuer profiles (runtime).

use crate::harness::{TestDb, conformance, date};
use prometheus::domain::{ConfigId, RunId};
use prometheus::store::{
    ArticleVector, EmbeddingStore, EntityVector, IssuerTextVector, JointVector, ProfileRecord,
    ProfileStore, StoredModel,
};
use std::collections::BTreeMap;

fn ev(entity: &str, day: &str, model: &str, v: &[f32], config: &str) -> EntityVector {
    EntityVector {
        entity_id: entity.into(),
        as_of_date: date(day),
        model_id: model.into(),
        vector: v.to_vec(),
        run_id: RunId::new("features:US_EQ:2024-03-11"),
        config_id: ConfigId::new(config),
    }
}

async fn models_are_immutable_and_found_by_fit_date(db: &TestDb) {
    let h = &db.historical;
    let m = StoredModel {
        model_id: "numeric-pca-aa".into(),
        encoder: "numeric_encoder".into(),
        config_id: ConfigId::new("numeric_encoder-1"),
        fitted_as_of: date("2024-02-29"),
        body: r#"{"mean":[0.5]}"#.into(),
        run_id: RunId::new("r1"),
    };
    assert!(h.save_encoder_model(&m).await.unwrap());
    // Same encoder, config and fit date: the stored model stays.
    let other = StoredModel {
        model_id: "numeric-pca-bb".into(),
        body: "{}".into(),
        ..m.clone()
    };
    assert!(!h.save_encoder_model(&other).await.unwrap());
    let got = h
        .encoder_model("numeric_encoder", &m.config_id, m.fitted_as_of)
        .await
        .unwrap();
    assert_eq!(got, Some(m.clone()));
    assert!(
        h.encoder_model("numeric_encoder", &m.config_id, date("2024-03-31"))
            .await
            .unwrap()
            .is_none()
    );
    // The same fit (same content id) under another config is stored for that config too,
    // so each config finds it again.
    let shared = StoredModel {
        config_id: ConfigId::new("regime-fit-1"),
        ..m.clone()
    };
    assert!(h.save_encoder_model(&shared).await.unwrap());
    for c in [&m.config_id, &shared.config_id] {
        let got = h
            .encoder_model("numeric_encoder", c, m.fitted_as_of)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (got.model_id.as_str(), &got.config_id),
            (m.model_id.as_str(), c)
        );
    }
}

async fn vectors_round_trip_bit_exact_and_upsert(db: &TestDb) {
    let h = &db.historical;
    let odd = [f32::MIN_POSITIVE, -0.0, 1.0e-30, 3.402_823e38, 0.1];
    let rows = vec![
        ev("I2", "2024-03-11", "m1", &odd, "numeric_encoder-1"),
        ev(
            "I1",
            "2024-03-11",
            "m1",
            &[1.0, 2.0, 3.0, 4.0, 5.0],
            "numeric_encoder-1",
        ),
        ev("I1", "2024-03-12", "m1", &[9.0; 5], "numeric_encoder-1"),
        ev("I1", "2024-03-11", "m2", &[7.0; 5], "numeric_encoder-2"),
    ];
    h.write_numeric_embeddings(&rows).await.unwrap();
    let got = h
        .numeric_embeddings(date("2024-03-11"), &ConfigId::new("numeric_encoder-1"))
        .await
        .unwrap();
    assert_eq!(
        got,
        vec![rows[1].clone(), rows[0].clone()],
        "by entity, only that date and config"
    );
    assert_eq!(
        got[1]
            .vector
            .iter()
            .map(|x| x.to_bits())
            .collect::<Vec<_>>(),
        odd.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    // Re-writing the same key replaces the vector (no duplicate).
    let mut again = rows[1].clone();
    again.vector = vec![0.5; 5];
    h.write_numeric_embeddings(&[again.clone()]).await.unwrap();
    let got = h
        .numeric_embeddings(date("2024-03-11"), &ConfigId::new("numeric_encoder-1"))
        .await
        .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], again);

    // Articles: only the requested ids of the requested model.
    let a = |id: &str, model: &str, v: f32| ArticleVector {
        article_id: id.into(),
        model_id: model.into(),
        vector: vec![v; 3],
        run_id: RunId::new("r"),
        config_id: ConfigId::new("text_encoder-1"),
    };
    h.write_article_vectors(&[
        a("n1", "hashing", 0.1),
        a("n2", "hashing", 0.2),
        a("n1", "minilm", 0.3),
    ])
    .await
    .unwrap();
    let got = h
        .article_vectors("hashing", &["n1".into(), "n3".into()])
        .await
        .unwrap();
    assert_eq!(got, BTreeMap::from([("n1".to_owned(), vec![0.1f32; 3])]));

    // Issuer-day news: bounded by as_of, by date then issuer.
    let it = |issuer: &str, day: &str, n: u32| IssuerTextVector {
        vector: ev(issuer, day, "hashing", &[0.6, 0.8], "text_encoder-1"),
        articles: n,
    };
    h.write_issuer_text(&[
        it("B", "2024-03-11", 2),
        it("A", "2024-03-11", 1),
        it("A", "2024-03-13", 4),
    ])
    .await
    .unwrap();
    let got = h
        .issuer_text(
            &ConfigId::new("text_encoder-1"),
            date("2024-03-01"),
            date("2024-03-12"),
        )
        .await
        .unwrap();
    assert_eq!(
        got.iter()
            .map(|r| (r.vector.entity_id.as_str(), r.articles))
            .collect::<Vec<_>>(),
        [("A", 1), ("B", 2)]
    );

    // Joint vectors by space and date.
    let j = |space: &str, entity: &str| JointVector {
        joint_type: space.into(),
        vector: ev(
            entity,
            "2024-03-11",
            "joint-x",
            &[0.0, 1.0],
            "joint_encoder-1",
        ),
    };
    h.write_joint(&[
        j("stability", "I2"),
        j("stability", "I1"),
        j("assessment", "I1"),
    ])
    .await
    .unwrap();
    h.write_joint(&[j("stability", "I1")]).await.unwrap();
    let got = h
        .joint_embeddings("stability", date("2024-03-11"))
        .await
        .unwrap();
    assert_eq!(
        got.iter()
            .map(|r| r.vector.entity_id.as_str())
            .collect::<Vec<_>>(),
        ["I1", "I2"]
    );
    assert!(
        h.joint_embeddings("stability", date("2024-03-12"))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn profiles_round_trip_and_upsert(db: &TestDb) {
    let r = &db.runtime;
    let p = |issuer: &str, flag: f64| ProfileRecord {
        issuer_id: issuer.into(),
        as_of_date: date("2024-03-11"),
        market_id: "US_EQ".into(),
        body: serde_json::json!({"facts": {"name": issuer}, "price": {"vol_21": 0.31}}),
        risk_flags: BTreeMap::from([("high_volatility".to_owned(), flag)]),
        run_id: RunId::new("profiles:US_EQ:2024-03-11"),
        config_id: ConfigId::new("profiles-1"),
    };
    r.write_profiles(&[p("B", 0.2), p("A", 0.9)]).await.unwrap();
    r.write_profiles(&[p("A", 0.1)]).await.unwrap();
    let got = r
        .profiles("US_EQ", date("2024-03-11"), &ConfigId::new("profiles-1"))
        .await
        .unwrap();
    assert_eq!(got, vec![p("A", 0.1), p("B", 0.2)]);
    assert!(
        r.profiles("US_EQ", date("2024-03-11"), &ConfigId::new("profiles-2"))
            .await
            .unwrap()
            .is_empty()
    );
}

conformance!(
    models_are_immutable_and_found_by_fit_date,
    vectors_round_trip_bit_exact_and_upsert,
    profiles_round_trip_and_upsert,
);
