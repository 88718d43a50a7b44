//! Campaign changes: new hours, exceptions, lead calling hours, timezone or running switch move the
//! earliest dialable time of the campaign's waiting callbacks. `SCHEDULED` ones take the recomputed
//! time; `QUEUED` ones the campaign may no longer dial go back to `SCHEDULED` with the next time.

use std::collections::HashMap;

use jiff::tz::TimeZone;
use rebound_domain::dispatch;
use rebound_domain::hours;
use rebound_domain::model::Campaign;
use rebound_domain::state::CallbackState;
use rebound_domain::time::parse_timezone;
use rebound_store::EarliestChange;

use crate::{Engine, EngineResult};

/// Callbacks read and changes written per store call.
const PAGE: u32 = 5_000;

impl Engine {
    /// The campaign's hours, exceptions, lead calling hours, timezone or running switch changed:
    /// recompute the earliest time of its `SCHEDULED` callbacks and demote `QUEUED` ones it may no
    /// longer dial, in batches; then wake the loop. Returns how many changed.
    pub async fn campaign_changed(&self, campaign: &Campaign) -> EngineResult<u64> {
        let now = self.clock.now();
        // An unknown timezone cannot be dialled in: its callbacks wait without an earliest time.
        let campaign_tz = parse_timezone(&campaign.timezone).ok();
        let mut lead_zones = LeadZones::default();
        let (mut changed, mut after) = (0u64, None);
        loop {
            let page = self.store.campaign_pending(campaign.id, after, PAGE).await?;
            after = page.last().map(|c| c.id);
            let mut changes = Vec::new();
            for callback in &page {
                match callback.state {
                    CallbackState::Scheduled => {
                        let earliest = campaign_tz.as_ref().and_then(|tz| {
                            let lead_tz = lead_zones.get(callback.lead_timezone.as_deref());
                            let plan = dispatch::dial_plan(campaign, tz, lead_tz);
                            hours::earliest_dialable(&plan, callback.desired_time, now)
                        });
                        if earliest != callback.earliest_time {
                            changes.push(EarliestChange {
                                id: callback.id,
                                expect: CallbackState::Scheduled,
                                earliest_time: earliest,
                            });
                        }
                    }
                    CallbackState::Queued => {
                        if let Err(next) = dispatch::dialable_now(campaign, callback, now) {
                            changes.push(EarliestChange {
                                id: callback.id,
                                expect: CallbackState::Queued,
                                earliest_time: next,
                            });
                        }
                    }
                    _ => {}
                }
            }
            if !changes.is_empty() {
                changed += self.store.apply_earliest_times(changes, &self.config.actor, now).await?;
            }
            if page.len() < PAGE as usize {
                break;
            }
        }
        if changed > 0 {
            tracing::info!(campaign = campaign.id, changed, "campaign change moved earliest times");
        }
        // Times may have moved sooner, and a started campaign may have callbacks to route.
        self.notify_routing();
        Ok(changed)
    }
}

/// Parsed lead timezones, so a million callbacks do not parse the same few names a million times.
#[derive(Default)]
struct LeadZones(HashMap<String, Option<TimeZone>>);

impl LeadZones {
    fn get(&mut self, name: Option<&str>) -> Option<&TimeZone> {
        let name = name?;
        if !self.0.contains_key(name) {
            self.0.insert(name.to_string(), parse_timezone(name).ok());
        }
        self.0.get(name).and_then(Option::as_ref)
    }
}
