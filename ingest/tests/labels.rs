//! Learning from the center's own labels: contacts that arrived with an
//! agent's hints are stored as labeled examples, `hotlined export-labels`
//! writes them in the corpus format, and `hotlined train` takes the shipped
//! corpus plus the export. A work order a dispatcher re-dispatched to
//! another unit is a labeled example too: its category from the dispatch.
mod support;
use hotline_proto::v1 as pb;
use std::process::Command;
use support::*;

#[test]
fn hinted_contacts_export_as_labels_and_train_with_the_corpus() {
    let dir = temp_dir("labels");
    let d = Daemon::start_in(&dir, None);
    let mut both = contact("lab-1", "小区门口的共享单车堆成山了");
    both.kind_hint = pb::Kind::Complaint as i32;
    both.category_hint = "urban.management".into();
    let mut cat = contact("lab-2", "公积金贷款额度是怎么算的");
    cat.category_hint = "housing.fund".into();
    let plain = contact("lab-3", "楼下烧烤店油烟太大");
    // Three work orders a dispatcher sends elsewhere: one naming the
    // category, one to a unit whose category the decision had among its
    // alternatives or is the unit's only one, one to the unit it already had.
    let re_named = contact("lab-4", "我们村到镇上的那条路坑坑洼洼的好几年了没人修");
    let re_unit = contact("lab-5", "隔壁工地晚上十二点了还在打桩吵得睡不着");
    let same = contact("lab-6", "小区的电梯三天两头坏");
    rt().block_on(async {
        for c in [both, cat, plain] {
            d.submit(c).await;
        }
        let mut events = Vec::new();
        let mut dispatch = |dec: &pb::Decision, unit: &str, category: &str| {
            events.push(pb::OrderEvent {
                case_id: dec.case_id.clone(),
                r#type: pb::OrderEventType::Dispatched as i32,
                at: ts(now_secs()),
                unit: unit.into(),
                category: category.into(),
                ..Default::default()
            });
        };
        let a = d.submit(re_named).await;
        dispatch(&a, "510802.jtj", "transport");
        let b = d.submit(re_unit).await;
        dispatch(&b, "510802.sthj", "");
        let c = d.submit(same).await;
        let lead = c
            .targets
            .first()
            .map(|t| t.code.clone())
            .unwrap_or_default();
        dispatch(&c, &lead, "");
        let summary = d.order_events(events).await;
        assert_eq!(summary.accepted, 3, "{summary:?}");
    });
    let data = d.dir.join("data");
    drop(d);
    let out = Command::new(BIN)
        .args(["export-labels", "--data-dir"])
        .arg(&data)
        .output()
        .expect("export-labels");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(
        lines.len(),
        4,
        "hinted contacts and re-dispatched work orders only: {lines:?}"
    );
    assert_eq!(lines[0]["text"], "小区门口的共享单车堆成山了");
    assert_eq!(lines[0]["kind"], "complaint");
    assert_eq!(lines[0]["category"], "urban.management");
    assert_eq!(lines[0]["kind_from"], "agent");
    assert_eq!(lines[0]["category_from"], "agent");
    assert_eq!(lines[0]["district"], "510802");
    assert_eq!(lines[1]["category"], "housing.fund");
    assert_eq!(lines[1]["category_from"], "agent");
    assert_eq!(lines[1]["kind_from"], "decision");
    assert_eq!(
        lines[2]["text"],
        "我们村到镇上的那条路坑坑洼洼的好几年了没人修"
    );
    assert_eq!(lines[2]["category"], "transport");
    assert_eq!(lines[2]["category_from"], "redispatch");
    assert_eq!(lines[3]["text"], "隔壁工地晚上十二点了还在打桩吵得睡不着");
    assert_eq!(lines[3]["category"], "env.pollution");
    assert_eq!(lines[3]["category_from"], "redispatch");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("2 re-dispatched"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("13800138000"),
        "no caller in a label"
    );

    // The center retrains on the shipped corpus plus its own labels.
    let export = data.join("labels.jsonl");
    std::fs::write(&export, &out.stdout).expect("write export");
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../router/data/corpus");
    let model = data.join("model.bin");
    let t = Command::new(BIN)
        .args(["train", "--corpus"])
        .arg(&corpus)
        .arg("--corpus")
        .arg(&export)
        .arg("--out")
        .arg(&model)
        .output()
        .expect("train");
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
    // The shipped corpus as `train` reads it (its held-out files skipped),
    // and every exported label.
    let router = hotline_router::Router::embedded().expect("embedded rules");
    let count = |p: &std::path::Path| {
        hotline_ingest::cmd::train::read_corpus(&[p.to_path_buf()], &router)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .len()
    };
    let (shipped, labels) = (count(&corpus), count(&export));
    assert!(shipped > 3000 && labels >= 3, "{shipped} + {labels}");
    let trained = format!("{} labeled contacts", shipped + labels);
    assert!(
        String::from_utf8_lossy(&t.stderr).contains(&trained),
        "{}",
        String::from_utf8_lossy(&t.stderr)
    );
    let e = Command::new(BIN)
        .args(["eval", "--json", "--corpus"])
        .arg(&export)
        .arg("--model")
        .arg(&model)
        .output()
        .expect("eval");
    assert!(e.status.success(), "{}", String::from_utf8_lossy(&e.stderr));
    let r: serde_json::Value = serde_json::from_slice(&e.stdout).expect("report");
    assert_eq!(r["contacts"], 4);
}
