//! A seeded model of a city hotline's contacts: mostly phone calls, a
//! consultation-heavy mix, Chinese texts built from openers × matters ×
//! places × closers, across the city's seven districts.
//!
//! Parameters (documented so figures can be compared across runs):
//! - channel: phone 90 %, SMS 3 %, WeChat 3 %, web 2 %, app 2 %;
//! - matter: drawn from [`MATTERS`], each with a weight; about 58 % of the
//!   weight is consultations, the rest requests, transfers and refusals;
//! - 2 % enterprise contacts, 2 % orders from the provincial platform;
//! - callers from a pool of `callers` numbers, so some call again;
//! - `repeat_percent` (4 %) of contacts are a recent caller again on the same
//!   matter, phrased as a repeat ("还是上次反映的…");
//! - `burst_per_mille` (3 ‰) of contacts start an outage burst — a water or
//!   power outage at one compound of one district — that 8–20 further callers
//!   report over the next 20–40 minutes (clusters and hotspots);
//! - contacts spaced by `mean_gap_ms` on average, from `start`.
//!
//! Call and message events for the contacts (waits, abandons, acceptance
//! latency per queue) are modelled by `demo`, which needs them in time order.
use chrono::{DateTime, Duration, Utc};
use hotline_proto::v1 as pb;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Districts of Guangyuan: division code and name.
pub const DISTRICTS: &[(&str, &str)] = &[
    ("510802", "利州区"),
    ("510811", "昭化区"),
    ("510812", "朝天区"),
    ("510821", "旺苍县"),
    ("510822", "青川县"),
    ("510823", "剑阁县"),
    ("510824", "苍溪县"),
];

const PLACES: &[&str] = &[
    "东坝街道",
    "南河片区",
    "万缘新区",
    "上西坝",
    "下西坝",
    "雪峰街道",
    "嘉陵街道",
    "河西街道",
    "回龙河",
    "宝轮镇",
    "元坝镇",
    "羊木镇",
    "中子镇",
    "东河镇",
    "乔庄镇",
    "普安镇",
    "陵江镇",
    "滨江路",
    "蜀门北路",
    "利州东路",
];

const BUILDINGS: &[&str] = &[
    "幸福小区",
    "锦绣花园",
    "滨江一号",
    "凤凰城",
    "阳光家园",
    "金色华庭",
    "翰林苑",
    "新城印象",
    "天成上城",
    "康乐小区",
];

const OPENERS: &[&str] = &[
    "",
    "你好，",
    "您好，",
    "喂，你好，",
    "我想反映一下，",
    "我要反映个事，",
    "麻烦问一下，",
    "打扰了，",
];
const CLOSERS: &[&str] = &[
    "",
    "谢谢。",
    "请尽快处理。",
    "希望尽快给个答复。",
    "麻烦你们了。",
    "谢谢你们。",
    "请帮忙看一下。",
];

/// A matter: text with `{place}` and `{building}` holes, and its weight.
pub struct Matter {
    pub text: &'static str,
    pub weight: u32,
}

/// The matters; weights sum to 1000.
pub const MATTERS: &[Matter] = &[
    // Consultations (580).
    Matter {
        text: "请问公积金怎么提取？需要带什么材料",
        weight: 70,
    },
    Matter {
        text: "请问身份证丢了去哪里补办",
        weight: 60,
    },
    Matter {
        text: "请问社保卡丢了怎么补办",
        weight: 50,
    },
    Matter {
        text: "想问一下异地就医备案怎么办理",
        weight: 40,
    },
    Matter {
        text: "请问结婚登记需要什么材料，在哪里办",
        weight: 30,
    },
    Matter {
        text: "营业执照怎么申请，需要哪些材料",
        weight: 40,
    },
    Matter {
        text: "孩子明年上小学，入学报名什么时候开始",
        weight: 40,
    },
    Matter {
        text: "剑门关门票多少钱，几点开门？",
        weight: 30,
    },
    Matter {
        text: "请问{place}的不动产登记需要什么材料",
        weight: 30,
    },
    Matter {
        text: "请问户口迁移到{place}怎么办理",
        weight: 40,
    },
    Matter {
        text: "请问养老金资格认证怎么做",
        weight: 30,
    },
    Matter {
        text: "咨询一下{place}附近的核酸检测点在哪里",
        weight: 10,
    },
    Matter {
        text: "请问失业金怎么申请",
        weight: 40,
    },
    Matter {
        text: "请问{place}的公交车几点收班",
        weight: 30,
    },
    Matter {
        text: "想了解一下创业补贴的申请条件",
        weight: 40,
    },
    // Requests: help, complaints, reports, suggestions, opinions (320).
    Matter {
        text: "{place}{building}物业不作为，电梯坏了一个月没人修，我要投诉",
        weight: 40,
    },
    Matter {
        text: "{place}旁边工地夜间施工，吵得睡不着",
        weight: 30,
    },
    Matter {
        text: "公司拖欠我们农民工工资三个月了，在{place}的工地",
        weight: 30,
    },
    Matter {
        text: "举报{place}有一家黑作坊无证经营，卫生很差",
        weight: 20,
    },
    Matter {
        text: "{place}的化工厂偷排废水，河道都变黑了",
        weight: 15,
    },
    Matter {
        text: "{place}{building}楼下烧烤店油烟太大，还很吵",
        weight: 20,
    },
    Matter {
        text: "{place}路口的路灯坏了好几天，晚上很黑",
        weight: 25,
    },
    Matter {
        text: "{place}有流动摊贩乱摆摊占道经营",
        weight: 20,
    },
    Matter {
        text: "建议在{place}公交站增设一个候车亭",
        weight: 20,
    },
    Matter {
        text: "开发商延期交房半年了，{building}的业主都很着急",
        weight: 20,
    },
    Matter {
        text: "在{place}超市买到过期食品，商家不给退",
        weight: 20,
    },
    Matter {
        text: "{place}的学校乱收费，要求交资料费",
        weight: 15,
    },
    Matter {
        text: "我觉得{place}的停车收费标准不合理，有意见",
        weight: 15,
    },
    Matter {
        text: "{place}的出租车司机拒载，还绕路",
        weight: 15,
    },
    Matter {
        text: "家里老人生活困难，想申请低保，求助",
        weight: 15,
    },
    // Utility linkage, transfers and refusals (100).
    Matter {
        text: "{place}{building}从早上开始停水了，什么时候来水",
        weight: 25,
    },
    Matter {
        text: "{place}家里突然停电了，跳闸合不上",
        weight: 15,
    },
    Matter {
        text: "{place}整个小区停水两天了，上千户没水用",
        weight: 5,
    },
    Matter {
        text: "请问个人所得税年度汇算怎么退税",
        weight: 15,
    },
    Matter {
        text: "我昨天报警，派出所一直不处理，民警态度很差",
        weight: 5,
    },
    Matter {
        text: "{place}{building}楼下着火了，浓烟很大",
        weight: 3,
    },
    Matter {
        text: "{place}路口有人晕倒了",
        weight: 3,
    },
    Matter {
        text: "{place}发生车祸，两车追尾",
        weight: 4,
    },
    Matter {
        text: "我要起诉我前夫，法院判决他一直不执行",
        weight: 10,
    },
    Matter {
        text: "喂？喂",
        weight: 10,
    },
    Matter {
        text: "帮我查一下他的住址",
        weight: 5,
    },
];

/// Traffic parameters.
#[derive(Debug, Clone)]
pub struct TrafficConfig {
    pub seed: u64,
    pub start: DateTime<Utc>,
    pub mean_gap_ms: u64,
    /// Distinct callers; fewer callers means more repeat callers.
    pub callers: u64,
    /// Contacts that are a recent caller again on the same matter, percent.
    pub repeat_percent: u32,
    /// Contacts that start an outage burst, per mille.
    pub burst_per_mille: u32,
}

impl Default for TrafficConfig {
    fn default() -> Self {
        TrafficConfig {
            seed: 12345,
            start: DateTime::from_timestamp(1_795_651_200, 0).unwrap_or_default(), // 2026-11-26 08:00 +08:00
            mean_gap_ms: 300,
            callers: 200_000,
            repeat_percent: 4,
            burst_per_mille: 3,
        }
    }
}

/// An endless, reproducible stream of contacts.
pub struct Traffic {
    rng: ChaCha8Rng,
    cfg: TrafficConfig,
    now: DateTime<Utc>,
    seq: u64,
    total_weight: u32,
    /// Recent contacts (caller, district, place, building, matter) for repeats.
    recent: Vec<(u64, usize, &'static str, &'static str, &'static str)>,
    /// Active outage bursts.
    bursts: Vec<Burst>,
}

/// An outage many neighbours report.
struct Burst {
    district: usize,
    place: &'static str,
    building: &'static str,
    text: &'static str,
    left: u32,
    until: DateTime<Utc>,
}

/// Phrasings of an outage at a compound, for bursts.
const OUTAGES: &[&str] = &[
    "{place}{building}停水了，到现在还没来水",
    "{building}从早上开始停水，家里做饭都没水",
    "我们{building}整栋楼都停电了",
    "{place}{building}停电好几个小时了，什么时候来电",
];

/// Openers of a repeat contact.
const REPEAT_OPENERS: &[&str] = &[
    "还是上次反映的事，",
    "我之前打过电话，",
    "第二次打电话了，",
    "",
];

fn pick<'a>(rng: &mut ChaCha8Rng, xs: &[&'a str]) -> &'a str {
    xs[rng.gen_range(0..xs.len())]
}

impl Traffic {
    pub fn new(cfg: TrafficConfig) -> Traffic {
        Traffic {
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            now: cfg.start,
            seq: 0,
            total_weight: MATTERS.iter().map(|m| m.weight).sum(),
            recent: Vec::new(),
            bursts: Vec::new(),
            cfg,
        }
    }

    fn matter(&mut self) -> &'static str {
        let mut x = self.rng.gen_range(0..self.total_weight);
        for m in MATTERS {
            if x < m.weight {
                return m.text;
            }
            x -= m.weight;
        }
        MATTERS[0].text
    }

    /// The next contact.
    pub fn next_contact(&mut self) -> pb::Contact {
        self.seq += 1;
        let gap = self.rng.gen_range(0..=2 * self.cfg.mean_gap_ms);
        self.now += Duration::milliseconds(gap as i64);
        self.bursts.retain(|b| b.left > 0 && b.until > self.now);
        let mut caller_no = self.rng.gen_range(0..self.cfg.callers.max(1));
        let mut opener = pick(&mut self.rng, OPENERS);
        let roll = self.rng.gen_range(0..1000);
        let (district_idx, place, building, matter) =
            if roll < self.cfg.repeat_percent * 10 && !self.recent.is_empty() {
                // A recent caller again, on the same matter.
                let i = self.rng.gen_range(0..self.recent.len());
                let (c, d, p, b, m) = self.recent[i];
                caller_no = c;
                opener = pick(&mut self.rng, REPEAT_OPENERS);
                (d, p, b, m)
            } else if !self.bursts.is_empty() && self.rng.gen_range(0..100) < 25 {
                let i = self.rng.gen_range(0..self.bursts.len());
                let b = &mut self.bursts[i];
                b.left -= 1;
                (b.district, b.place, b.building, b.text)
            } else {
                let d = self.rng.gen_range(0..DISTRICTS.len());
                let p = pick(&mut self.rng, PLACES);
                let b = pick(&mut self.rng, BUILDINGS);
                if roll >= 1000 - self.cfg.burst_per_mille {
                    let text = pick(&mut self.rng, OUTAGES);
                    let left = self.rng.gen_range(8..=20);
                    let until = self.now + Duration::minutes(self.rng.gen_range(20..=40));
                    self.bursts.push(Burst {
                        district: d,
                        place: p,
                        building: b,
                        text,
                        left,
                        until,
                    });
                    (d, p, b, text)
                } else {
                    (d, p, b, self.matter())
                }
            };
        if self.recent.len() < 512 {
            self.recent
                .push((caller_no, district_idx, place, building, matter));
        } else {
            let i = self.rng.gen_range(0..self.recent.len());
            self.recent[i] = (caller_no, district_idx, place, building, matter);
        }
        let (district, _) = DISTRICTS[district_idx];
        let closer = pick(&mut self.rng, CLOSERS);
        let text = expand(opener, matter, place, building, closer);
        let phone = format!("13{:09}", caller_no * 7919 % 1_000_000_000);
        let r = self.rng.gen_range(0..100);
        let (channel, caller) = match r {
            0..=89 => (
                pb::Channel::Phone,
                pb::Caller {
                    phone,
                    ..Default::default()
                },
            ),
            90..=92 => (
                pb::Channel::Sms,
                pb::Caller {
                    phone,
                    ..Default::default()
                },
            ),
            93..=95 => (
                pb::Channel::Wechat,
                pb::Caller {
                    wechat_openid: format!("oWx{caller_no:08x}"),
                    ..Default::default()
                },
            ),
            96..=97 => (
                pb::Channel::Web,
                pb::Caller {
                    account_id: format!("web{caller_no}"),
                    ..Default::default()
                },
            ),
            _ => (
                pb::Channel::App,
                pb::Caller {
                    account_id: format!("app{caller_no}"),
                    ..Default::default()
                },
            ),
        };
        let origin = if self.rng.gen_range(0..100) < 2 {
            pb::Origin::Provincial
        } else {
            pb::Origin::Local
        };
        pb::Contact {
            contact_id: format!("bench-{}-{:08}", self.cfg.seed, self.seq),
            channel: channel as i32,
            received_at: Some(hotline_proto::Timestamp {
                seconds: self.now.timestamp(),
                nanos: self.now.timestamp_subsec_nanos() as i32,
            }),
            caller: Some(caller),
            content: text,
            location: Some(pb::Location {
                district_code: district.into(),
                address: format!("{place}{building}"),
            }),
            origin: origin as i32,
            enterprise: self.rng.gen_range(0..100) < 2,
            ..Default::default()
        }
    }
}

impl Iterator for Traffic {
    type Item = pb::Contact;
    fn next(&mut self) -> Option<pb::Contact> {
        Some(self.next_contact())
    }
}

/// `opener + matter + closer`, with `{place}` and `{building}` in the matter
/// replaced, written into one string (the load generator's hot path).
fn expand(opener: &str, matter: &str, place: &str, building: &str, closer: &str) -> String {
    let mut out = String::with_capacity(opener.len() + matter.len() + 64 + closer.len());
    out.push_str(opener);
    let mut rest = matter;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(t) = tail.strip_prefix("{place}") {
            out.push_str(place);
            rest = t;
        } else if let Some(t) = tail.strip_prefix("{building}") {
            out.push_str(building);
            rest = t;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out.push_str(closer);
    out
}
