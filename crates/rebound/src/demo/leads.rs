//! Demo leads: valid national numbers per country (in ranges the numbering plans allocate, each
//! checked with `PhoneNumber::parse`), names, stated timezones for some, and list data fields.

use std::collections::HashSet;

use anyhow::Context as _;
use jiff::Timestamp;
use rand::Rng as _;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;
use rebound_domain::model::{DataFields, Lead, ListId};
use rebound_domain::phone::PhoneNumber;
use rebound_store::Store;

use super::LEAD_BATCH;
use super::plan::DemoLead;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Country {
    Gb,
    Sg,
    Au,
}

impl Country {
    fn region(self) -> &'static str {
        match self {
            Country::Gb => "GB",
            Country::Sg => "SG",
            Country::Au => "AU",
        }
    }
}

pub(super) async fn create_leads(
    store: &dyn Store,
    rng: &mut StdRng,
    now: Timestamp,
    country: Country,
    list_id: ListId,
    count: usize,
    with_details: bool,
) -> anyhow::Result<Vec<DemoLead>> {
    let mut leads = Vec::with_capacity(count);
    let mut seen = HashSet::new();
    let mut guard = 0;
    while leads.len() < count {
        guard += 1;
        anyhow::ensure!(guard < count * 20, "could not generate valid {} numbers (phone rules?)", country.region());
        let wanted = if rng.random_bool(0.08) {
            3
        } else if rng.random_bool(0.35) {
            2
        } else {
            1
        };
        let mut phones: Vec<(PhoneNumber, String)> = Vec::new();
        for i in 0..wanted {
            let raw = national_number(rng, country, i > 0);
            // Only numbers the phone rules accept: generated ranges are valid, this makes sure.
            if let Ok(p) = PhoneNumber::parse(&raw, Some(country.region()))
                && !phones.iter().any(|(q, _)| q == &p)
            {
                phones.push((p, raw));
            }
        }
        if phones.is_empty() || !seen.insert(phones[0].0.clone()) {
            continue;
        }
        let name = (with_details || rng.random_bool(0.3)).then(|| person_name(rng, country));
        let timezone = lead_timezone(rng, country);
        let data = if with_details { lead_data(rng, country) } else { DataFields::new() };
        leads.push((phones, name, timezone, data));
    }

    let mut out = Vec::with_capacity(count);
    for chunk in leads.chunks(LEAD_BATCH) {
        let batch: Vec<Lead> = chunk
            .iter()
            .map(|(phones, name, timezone, data)| Lead {
                id: 0,
                list_id,
                phones: phones.iter().map(|(p, _)| p.as_str().to_string()).collect(),
                timezone: timezone.clone(),
                name: name.clone(),
                data: data.clone(),
                created_at: now,
            })
            .collect();
        let stored = store.create_leads(batch).await.context("cannot insert demo leads")?;
        for (lead, (phones, _, timezone, data)) in stored.into_iter().zip(chunk) {
            out.push(DemoLead {
                id: lead.id,
                list_id,
                phones: phones.clone(),
                timezone: timezone.clone(),
                data: data.clone(),
            });
        }
    }
    Ok(out)
}

fn digits(rng: &mut StdRng, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
}

/// A national-format number in a range the numbering plan allocates, written as people write them.
fn national_number(rng: &mut StdRng, country: Country, secondary: bool) -> String {
    match country {
        // London 020 7xxx / 020 3xxx / 020 8xxx; mobiles 079[4-9]x xxxxxx.
        Country::Gb if secondary || rng.random_bool(0.25) => {
            format!("079{}{} {}", rng.random_range(4..10u8), digits(rng, 1), digits(rng, 6))
        }
        Country::Gb => {
            let block = *[7u8, 7, 3, 8].choose(rng).unwrap_or(&7);
            format!("020 {block}{} {}", digits(rng, 3), digits(rng, 4))
        }
        // Fixed 6[1-5]xx xxxx and 68xx xxxx; mobiles 8[1-8]xx xxxx and 9[0-8]xx xxxx.
        Country::Sg => {
            let lead = if secondary || rng.random_bool(0.5) {
                if rng.random_bool(0.5) {
                    format!("8{}", rng.random_range(1..9u8))
                } else {
                    format!("9{}", rng.random_range(0..9u8))
                }
            } else if rng.random_bool(0.8) {
                format!("6{}", rng.random_range(1..6u8))
            } else {
                "68".to_string()
            };
            format!("{lead}{} {}", digits(rng, 2), digits(rng, 4))
        }
        // Canberra 02 62xx xxxx; mobiles 04[0-3]x xxx xxx.
        Country::Au if secondary || rng.random_bool(0.3) => {
            format!("04{}{} {} {}", rng.random_range(0..4u8), digits(rng, 1), digits(rng, 3), digits(rng, 3))
        }
        Country::Au => format!("02 62{} {}", digits(rng, 2), digits(rng, 4)),
    }
}

/// Most leads leave the timezone to be inferred from the number; some state it, including a few
/// who live elsewhere (their calling hours then differ from the campaign's).
fn lead_timezone(rng: &mut StdRng, country: Country) -> Option<String> {
    if !rng.random_bool(0.12) {
        return None;
    }
    let zones: &[&str] = match country {
        Country::Gb => &["Europe/London", "Europe/London", "Europe/Dublin"],
        Country::Sg => &["Asia/Singapore", "Asia/Kuala_Lumpur"],
        Country::Au => &["Australia/Sydney", "Australia/Sydney", "Australia/Perth", "Australia/Brisbane"],
    };
    zones.choose(rng).map(|z| z.to_string())
}

fn person_name(rng: &mut StdRng, country: Country) -> String {
    let (first, last) = match country {
        Country::Gb => (
            "Oliver, Amelia, George, Isla, Harry, Ava, Noah, Mia, Jack, Ivy, Leo, Freya, Arthur, Lily, Muhammad, \
             Florence, Oscar, Grace, Priya, Aisha, Tomasz, Chloe, Kwame, Siobhan",
            "Smith, Jones, Taylor, Brown, Williams, Wilson, Johnson, Davies, Patel, Wright, Khan, Evans, Thomas, \
             Roberts, Walker, Okafor, Nowak, Clarke, Hughes, Green, Hall, Ali, Murphy, Edwards",
        ),
        Country::Sg => (
            "Wei Ling, Jun Jie, Siti, Muhammad, Priya, Hui Min, Zhi Hao, Nur Aisyah, Ravi, Mei Ling, Darren, Rachel, \
             Arjun, Farah, Kai Xin, Benjamin",
            "Tan, Lim, Lee, Ng, Ong, Wong, Goh, Chua, Chan, Koh, Teo, Rahman, Abdullah, Kumar, Pillai, Singh",
        ),
        Country::Au => (
            "Jack, Olivia, William, Charlotte, Noah, Mia, Thomas, Amelia, James, Ava, Lachlan, Isla, Ethan, Chloe, \
             Liam, Grace, Mason, Zoe",
            "Smith, Jones, Williams, Brown, Wilson, Taylor, Nguyen, Johnson, Martin, White, Anderson, Walker, \
             Thompson, Kelly, Ryan, Murphy, Chen, Singh",
        ),
    };
    let pick = |rng: &mut StdRng, names: &'static str| {
        let names: Vec<&str> = names.split(", ").collect();
        names.choose(rng).copied().unwrap_or("Alex")
    };
    format!("{} {}", pick(rng, first), pick(rng, last))
}

fn lead_data(rng: &mut StdRng, country: Country) -> DataFields {
    let mut data = DataFields::new();
    match country {
        Country::Gb => {
            data.insert("account_no".into(), format!("LR-{}", digits(rng, 7)));
            let outward =
                ["SW1A", "SE1", "N1", "E14", "W2", "NW3", "EC1V", "WC2H", "SW11", "SE10", "E2", "N16", "W12", "SE15"];
            const INWARD: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";
            let letter = |rng: &mut StdRng| char::from(INWARD[rng.random_range(0..INWARD.len())]);
            let postcode = format!(
                "{} {}{}{}",
                outward.choose(rng).unwrap_or(&"SE1"),
                rng.random_range(1..10u8),
                letter(rng),
                letter(rng)
            );
            data.insert("postcode".into(), postcode);
        }
        Country::Sg => {
            data.insert("customer_ref".into(), format!("SC{}", digits(rng, 6)));
            let plan = ["Silver", "Gold", "Platinum", "Family", "Senior Care"].choose(rng).unwrap_or(&"Silver");
            data.insert("plan".into(), plan.to_string());
        }
        Country::Au => {
            data.insert("account_no".into(), format!("CE-{}", digits(rng, 8)));
            let postcode =
                if rng.random_bool(0.7) { rng.random_range(2600..2618) } else { rng.random_range(2900..2915) };
            data.insert("postcode".into(), postcode.to_string());
        }
    }
    data
}
