//! An expert panel's verdict on a system, given through the store: the panel of the chair and
//! five experts, each scoring as a `Profile` says (see `expert_sheet`), and the chair's verdict.

use ronghe::assessments::{Command, NewExpert, Outcome};
use ronghe::store::Store;
use ronghe_assessment::IntegrationMode;
use ronghe_assessment::rubric::{DEFAULT_RUBRIC, Rubric};

use super::{Profile, expert_sheet};

pub const CHAIR: &str = "chair-zhang";
pub const EXPERTS: [&str; 5] = ["wang-li", "li-na", "zhao-qiang", "qian-hui", "sun-yu"];

/// Opens the registered system `id`'s assessment with the built-in rubric, adds and declares
/// the five experts; returns the assessment id.
pub async fn panel_of_five(store: &Store, id: &str) -> String {
    store
        .register_rubric(&Rubric::builtin(), DEFAULT_RUBRIC, CHAIR)
        .await
        .expect("register the rubric");
    let view = store
        .open_assessment(id, ("ronghe-default", 1), CHAIR, CHAIR)
        .await
        .expect("open");
    for expert in EXPERTS {
        let new = NewExpert {
            id: expert.into(),
            name: format!("专家{expert}"),
            department: "省大数据局".into(),
        };
        store
            .act_on_assessment(&view.assessment.id, CHAIR, Command::AddExpert(new))
            .await
            .expect("add expert");
        let declare = Command::Declare {
            expert: expert.into(),
            conflicts: vec![],
        };
        store
            .act_on_assessment(&view.assessment.id, expert, declare)
            .await
            .expect("declare");
    }
    view.assessment.id
}

/// The registered system `id` in the store at `database`, assessed by a panel that sees it as
/// `profile`: the verdict's mode.
pub async fn give_verdict(database: &str, id: &str, profile: Profile) -> IntegrationMode {
    let store = Store::open(database, &Default::default())
        .await
        .expect("open the store");
    let assessment = panel_of_five(&store, id).await;
    for (e, expert) in EXPERTS.iter().enumerate() {
        let submit = Command::Submit {
            expert: (*expert).into(),
            sheet: expert_sheet(profile, e),
        };
        store
            .act_on_assessment(&assessment, expert, submit)
            .await
            .expect("submit");
    }
    let Outcome::Decided(report) = store
        .decide_assessment(&assessment, CHAIR, None, None)
        .await
        .expect("verdict")
    else {
        panic!("the panel of five gives a verdict once all have scored")
    };
    store.close().await;
    report.verdict.mode
}
