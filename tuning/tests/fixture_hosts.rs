//! The host reader, the planner and the check against three fixture hosts
//! (tests/fixtures/): a 2-socket, 2-node box with SMT; a 2-vCPU VM; a box
//! with isolcpus and nohz_full.

use std::path::PathBuf;

use monocoque_tuning::check::{self, Severity};
use monocoque_tuning::cpu_list;
use monocoque_tuning::host::IoUring;
use monocoque_tuning::plan::{self, IoCoresRequest, ServiceRequest, Wait};
use monocoque_tuning::{Host, Profile};

fn host(name: &str) -> Host {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    Host::read(&root).unwrap()
}

fn two_services() -> Vec<ServiceRequest> {
    ["market-data", "requests"]
        .iter()
        .map(|n| ServiceRequest {
            name: n.to_string(),
            profile: None,
            cpu: None,
            // The forwarder spreads its subscribers when cores are spare.
            io_cores: if *n == "market-data" {
                IoCoresRequest::Auto
            } else {
                IoCoresRequest::None
            },
        })
        .collect()
}

fn show(name: &str, profile: Profile) -> String {
    let h = host(name);
    let p = plan::plan(&h, profile, &two_services()).unwrap();
    format!(
        "{}---\n{}",
        p.render(&h),
        check::render(&check::check(&h, &p), p.profile)
    )
}

/// `tune plan` and `tune check` output, exactly, for each fixture and
/// profile (tests/expected/<fixture>-<profile>.txt; reviewed by hand).
#[test]
fn plan_and_check_print_exactly_the_expected_text() {
    let expected = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/expected");
    for name in ["two-socket-smt", "vm-2vcpu", "isolated"] {
        for p in [
            Profile::Latency,
            Profile::Throughput,
            Profile::Balanced,
            Profile::Auto,
        ] {
            let got = match plan::plan(&host(name), p, &two_services()) {
                Ok(_) => show(name, p),
                Err(e) => format!("error: {e}\n"),
            };
            let file = expected.join(format!("{name}-{p}.txt"));
            if std::env::var_os("MONOCOQUE_BLESS").is_some() {
                std::fs::write(&file, &got).unwrap();
            }
            let want = std::fs::read_to_string(&file).unwrap();
            assert_eq!(got, want, "{}", file.display());
        }
    }
}

#[test]
fn the_two_socket_box_is_read_as_it_is() {
    let h = host("two-socket-smt");
    assert_eq!(h.cpus.len(), 16);
    assert_eq!(h.cores().len(), 8);
    assert_eq!(cpu_list::format(&h.nodes[&1]), "4-7,12-15");
    let cpu9 = h.cpu(9).unwrap();
    assert_eq!((cpu9.node, cpu9.package), (0, 0));
    assert_eq!(cpu_list::format(&cpu9.siblings), "1,9");
    assert_eq!(h.governors[&3], "powersave");
    assert_eq!(h.nic_irqs.len(), 2);
    assert_eq!(h.nic_irqs[0].name, "eth0-TxRx-0");
    assert_eq!(h.thp.as_deref(), Some("always"));
    assert_eq!(h.memlock, Some(65536));
    assert_eq!(h.io_uring, IoUring::Allowed);
    assert!(h.isolated.is_empty() && h.nohz_full.is_empty());
}

#[test]
fn the_vm_and_the_isolated_box_are_read_as_they_are() {
    let vm = host("vm-2vcpu");
    assert_eq!((vm.cpus.len(), vm.cores().len(), vm.nodes.len()), (2, 2, 1));
    assert!(vm.governors.is_empty(), "no cpufreq on the VM");
    let names: Vec<_> = vm.nic_irqs.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["virtio1-input.0", "virtio1-output.0"]);
    assert_eq!(vm.memlock, Some(8 << 20));
    let iso = host("isolated");
    assert_eq!(cpu_list::format(&iso.isolated), "1-3,5-7");
    assert_eq!(cpu_list::format(&iso.nohz_full), "1-3,5-7");
    assert_eq!(iso.memlock, None, "unlimited");
    assert_eq!(iso.thp.as_deref(), Some("never"));
}

#[test]
fn busy_pollers_never_share_a_core_and_sqpoll_needs_a_spare_isolated_core() {
    let h = host("two-socket-smt");
    let four: Vec<ServiceRequest> = (0..4)
        .map(|i| ServiceRequest {
            name: format!("s{i}"),
            profile: Some(Profile::Latency),
            cpu: None,
            io_cores: IoCoresRequest::None,
        })
        .collect();
    let p = plan::plan(&h, Profile::Balanced, &four).unwrap();
    let mut cores: Vec<_> = p
        .services
        .iter()
        .map(|s| h.cpu(s.cpu.unwrap()).unwrap().siblings.clone())
        .collect();
    cores.dedup();
    assert_eq!(cores.len(), 4, "one physical core each: {p:?}");
    assert!(
        p.services.iter().all(|s| s.wait == Wait::BusyPoll),
        "no isolated core: no SQPOLL"
    );
    // A service pinned to the sibling of a busy-polling service's CPU is refused.
    let clash = [
        ServiceRequest {
            name: "a".into(),
            profile: Some(Profile::Latency),
            cpu: Some(1),
            io_cores: IoCoresRequest::None,
        },
        ServiceRequest {
            name: "b".into(),
            profile: Some(Profile::Latency),
            cpu: Some(9),
            io_cores: IoCoresRequest::None,
        },
    ];
    let e = plan::plan(&h, Profile::Balanced, &clash).unwrap_err();
    assert_eq!(e.service, "b");
    assert!(
        e.reason.contains("another busy-polling service holds"),
        "{e}"
    );
    // On the isolated box, one spare isolated core: one SQPOLL thread.
    let iso = host("isolated");
    let p = plan::plan(&iso, Profile::Latency, &two_services()).unwrap();
    let sq: Vec<_> = p
        .services
        .iter()
        .filter(|s| matches!(s.wait, Wait::SqPoll { .. }))
        .collect();
    assert_eq!(sq.len(), 1);
    assert!(iso.isolated.contains(&3));
    assert_eq!(sq[0].wait, Wait::SqPoll { cpu: 3 });
}

#[test]
fn a_cpu_that_is_not_online_is_refused() {
    let h = host("vm-2vcpu");
    let r = [ServiceRequest {
        name: "x".into(),
        profile: None,
        cpu: Some(5),
        io_cores: IoCoresRequest::None,
    }];
    let e = plan::plan(&h, Profile::Balanced, &r).unwrap_err();
    assert!(e.reason.contains("CPU 5 is not online"), "{e}");
}

#[test]
fn findings_come_most_severe_first() {
    let h = host("two-socket-smt");
    let p = plan::plan(&h, Profile::Latency, &two_services()).unwrap();
    let f = check::check(&h, &p);
    let severities: Vec<Severity> = f.iter().map(|f| f.severity).collect();
    let mut sorted = severities.clone();
    sorted.sort();
    assert_eq!(severities, sorted);
    assert_eq!(severities.first(), Some(&Severity::High));
}

fn spreading(name: &str, profile: Profile, io_cores: IoCoresRequest) -> ServiceRequest {
    ServiceRequest {
        name: name.into(),
        profile: Some(profile),
        cpu: None,
        io_cores,
    }
}

#[test]
fn io_cores_take_the_spare_cores_on_the_services_node() {
    // Two latency forwarders on the two-socket box: each busy-polls on a core
    // of node 0, and they share node 0's one spare core (the other gets none
    // rather than IO cores across the interconnect).
    let h = host("two-socket-smt");
    let r = [
        spreading("a", Profile::Latency, IoCoresRequest::Auto),
        spreading("b", Profile::Latency, IoCoresRequest::Auto),
    ];
    let p = plan::plan(&h, Profile::Latency, &r).unwrap();
    assert_eq!(p.services[0].io_cores, [Some(3)]);
    assert!(p.services[1].io_cores.is_empty());
    assert!(p.busy_cpus().contains(&3), "a latency IO core busy-polls");
    assert!(!p.housekeeping.contains(&3));
    // Asked for by number, more than the node has: refused with the reason.
    let r = [spreading("a", Profile::Latency, IoCoresRequest::Count(4))];
    let e = plan::plan(&h, Profile::Latency, &r).unwrap_err();
    assert!(e.reason.contains("2 spare there"), "{e}");
    // Balanced: not pinned, as many as asked, whatever the host.
    let vm = host("vm-2vcpu");
    let r = [spreading("a", Profile::Balanced, IoCoresRequest::Count(3))];
    let p = plan::plan(&vm, Profile::Balanced, &r).unwrap();
    assert_eq!(p.services[0].io_cores, [None, None, None]);
    // None asked, none given; 0 is none.
    for none in [IoCoresRequest::None, IoCoresRequest::Count(0)] {
        let p = plan::plan(
            &h,
            Profile::Balanced,
            &[spreading("a", Profile::Balanced, none)],
        )
        .unwrap();
        assert!(p.services[0].io_cores.is_empty());
    }
}

#[test]
fn exact_counts_are_served_before_auto_shares_and_balanced_ones_take_no_core() {
    let h = host("two-socket-smt");
    // The exact latency count comes after the auto service in the config,
    // and is still served first: with a and b on CPUs 1 and 2 and the OS on
    // 0, node 0's one spare core (3) goes to b, and a gets none.
    let r = [
        spreading("a", Profile::Latency, IoCoresRequest::Auto),
        spreading("b", Profile::Latency, IoCoresRequest::Count(1)),
    ];
    let p = plan::plan(&h, Profile::Latency, &r).unwrap();
    assert_eq!(p.services[1].io_cores, [Some(3)]);
    assert!(p.services[0].io_cores.is_empty());
    // A balanced service asking for many takes no pinned service's cores.
    let r = [
        spreading("many", Profile::Balanced, IoCoresRequest::Count(64)),
        spreading("t", Profile::Throughput, IoCoresRequest::Auto),
    ];
    let p = plan::plan(&h, Profile::Balanced, &r).unwrap();
    assert_eq!(p.services[0].io_cores.len(), 64);
    assert!(p.services[0].io_cores.iter().all(Option::is_none));
    assert_eq!(
        p.services[1].io_cores.len(),
        plan::AUTO_IO_CORES_MAX,
        "auto is capped"
    );
}
