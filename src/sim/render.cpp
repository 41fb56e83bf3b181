// SPDX-License-Identifier: Apache-2.0
// Renderings of scenario runs and of the attack x scheme matrix. The matrix
// holds no times, serials or paths beyond file names, so it can be checked in
// and diffed.
#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "bpfsig/error.h"
#include "bpfsig/json_text.h"
#include "bpfsig/sim.h"

namespace bpfsig::sim {

namespace {

using Json = nlohmann::ordered_json;

Json expect_json(const std::optional<Expect>& e) {
  if (!e) return nullptr;
  Json j = Json::object();
  if (e->ok) j["ok"] = *e->ok;
  if (e->errno_name) j["errno"] = *e->errno_name;
  if (e->verdict) j["verdict"] = *e->verdict;
  if (e->denied_by) j["denied_by"] = *e->denied_by;
  if (e->check) j["check"] = *e->check;
  if (!e->audit.empty()) j["audit"] = e->audit;
  if (e->audit_count) j["audit_count"] = *e->audit_count;
  if (e->maps) j["maps"] = *e->maps;
  if (e->progs) j["progs"] = *e->progs;
  if (e->retval) j["retval"] = *e->retval;
  if (e->maps_as_signed) j["maps_as_signed"] = *e->maps_as_signed;
  return j;
}

template <class T>
Json optional_json(const std::optional<T>& v) {
  return v ? Json(*v) : Json(nullptr);
}

Json step_json(const StepResult& s) {
  Json hooks = Json::array();
  for (const auto& h : s.hooks)
    hooks.push_back(Json{{"hook", h.hook}, {"lsm", h.lsm}, {"verdict", h.verdict.empty() ? Json(nullptr) : Json(h.verdict)},
                         {"decision", h.decision}, {"errno", h.err}});
  return Json{{"index", s.index},
              {"kind", s.kind},
              {"name", s.label},
              {"target", s.target},
              {"ok", s.ok},
              {"skipped", s.skipped},
              {"errno", s.err},
              {"errno_name", errno_name(s.err)},
              {"error_kind", s.error_kind},
              {"message", s.message},
              {"check", s.check},
              {"retval", optional_json(s.retval)},
              {"maps", optional_json(s.maps)},
              {"progs", optional_json(s.progs)},
              {"maps_as_signed", optional_json(s.maps_as_signed)},
              {"maps_difference", s.maps_difference},
              {"verdicts", s.verdicts},
              {"hooks", hooks},
              {"audit", s.audit},
              {"expect", expect_json(s.expect)},
              {"expect_held", s.failures.empty()},
              {"failures", s.failures}};
}

// The denying record of the detecting step, or of the whole run.
const HookCall* denial(const RunResult& run) {
  const StepResult* d = run.detection();
  for (const auto& step : run.steps) {
    if (d && &step != d) continue;
    for (const auto& h : step.hooks)
      if (h.err != 0) return &h;
  }
  return nullptr;
}

std::string hook_text(const HookCall& h) {
  return "deny at " + h.hook + "/" + h.lsm + " (" + (h.verdict.empty() ? "" : "verdict " + h.verdict + ", ") +
         "errno " + std::to_string(h.err) + ")";
}

// What IPE decided for the first program load it saw (the loader's, or the
// attacker's own): the action of the rule that matched, from IPE's own 1420
// record, with the verdict it evaluated; "(permissive)" when not enforcing.
std::string ipe_decision(const RunResult& run) {
  for (const auto& s : run.steps) {
    const HookCall* call = nullptr;
    for (const auto& hc : s.hooks)
      if (hc.lsm == "ipe" && hc.hook == "bpf_prog_load") {
        call = &hc;
        break;
      }
    if (!call) continue;
    std::string action = call->decision;
    for (const auto& line : s.audit) {
      size_t op = line.find("ipe_op=BPF_PROG_LOAD");
      size_t at = line.rfind("action=");
      if (op == std::string::npos || at == std::string::npos) continue;
      action = line.substr(at + 7, line.find('"', at) - at - 7);
      if (line.find("enforcing=0") != std::string::npos) action += " (permissive)";
      break;
    }
    return action + " on bpf_signature=" + (call->verdict.empty() ? "NONE" : call->verdict);
  }
  return "-";
}

// An attack nobody detected that changed nothing: the loads the scenario
// expects to create their maps as signed (expect maps_as_signed = true) did,
// whatever the host wrote into the loader's ctx.
bool has_no_effect(const RunResult& run) {
  bool checked = false;
  for (const auto& s : run.steps) {
    if (!s.expect || !s.expect->maps_as_signed || !*s.expect->maps_as_signed) continue;
    if (!s.maps_as_signed || !*s.maps_as_signed) return false;
    checked = true;
  }
  return checked;
}

MatrixCell cell_for(const RunResult& run) {
  MatrixCell c;
  c.scheme = run.scheme;
  const StepResult* d = run.detection();
  c.detected = d != nullptr;
  c.where = d ? d->check : has_no_effect(run) ? "no effect" : "not detected";
  size_t records = 0;
  for (const auto& s : run.steps) records += s.audit.size();
  const HookCall* h = denial(run);
  if (h) c.audit = hook_text(*h);
  else if (records == 0) c.audit = "no records";
  else c.audit = "allow only (" + std::to_string(records) + (records == 1 ? " record)" : " records)");
  c.ipe = ipe_decision(run);
  c.expectations_held = run.passed();
  return c;
}

std::string cell_text(const MatrixCell& c) {
  std::string out = (c.detected ? "detected: " + c.where : c.where) + "; audit: " + c.audit +
                    "; ipe: " + c.ipe;
  if (!c.expectations_held) out += "; EXPECTATION FAILED";
  return out;
}

std::string md_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '|') out += "\\|";
    else out += ch;
  }
  return out;
}

}  // namespace

bool Matrix::all_held() const {
  for (const auto& row : rows)
    for (const auto& [scheme, cell] : row.cells)
      if (!cell.expectations_held) return false;
  return true;
}

Matrix run_matrix(const std::string& dir, const SimOptions& options) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.is_regular_file() && entry.path().extension() == ".toml") files.push_back(entry.path().string());
  if (ec) throw Error(ec.value(), "scenario", dir + ": cannot list the directory: " + ec.message());  // ENOTDIR, ENOENT, ...
  if (files.empty()) throw Error(ENOENT, "scenario", dir + ": no *.toml scenario in it");
  std::sort(files.begin(), files.end());
  Matrix m;
  std::set<std::string> schemes;
  for (const auto& file : files) {
    Scenario sc = load_scenario(file);
    MatrixRow row;
    row.attack = sc.name;
    row.description = sc.description;
    row.file = std::filesystem::path(file).filename().string();
    for (const auto& run : run_all(sc, options)) {
      row.cells[run.scheme] = cell_for(run);
      schemes.insert(run.scheme);
    }
    m.rows.push_back(std::move(row));
  }
  std::sort(m.rows.begin(), m.rows.end(),
            [](const MatrixRow& a, const MatrixRow& b) { return std::tie(a.attack, a.file) < std::tie(b.attack, b.file); });
  m.schemes.assign(schemes.begin(), schemes.end());
  return m;
}

std::string matrix_markdown(const Matrix& m) {
  std::ostringstream out;
  out << "| attack |";
  for (const auto& s : m.schemes) out << " " << s << " |";
  out << "\n|---|";
  for (size_t i = 0; i < m.schemes.size(); ++i) out << "---|";
  out << "\n";
  for (const auto& row : m.rows) {
    out << "| " << md_escape(row.attack) << " |";
    for (const auto& s : m.schemes) {
      auto it = row.cells.find(s);
      out << " " << (it == row.cells.end() ? std::string("not run") : md_escape(cell_text(it->second))) << " |";
    }
    out << "\n";
  }
  return out.str();
}

std::string matrix_document(const Matrix& m) {
  std::ostringstream out;
  out << "# The debate's attacks, run against every scheme\n\n"
      << "Generated by `bpfsig sim --matrix scenarios/attacks --doc` (do not edit: `tests/sim` checks that this file is\n"
      << "what the command prints). Each row is a scenario in `scenarios/attacks/` ([scenarios.md](scenarios.md)), run\n"
      << "once per scheme it lists, each on that scheme's kernel profile unless the scenario names one. A cell says\n"
      << "whether the attack was detected and where (the hook and LSM, or the kernel check, with its verdict or\n"
      << "errno), or \"no effect\" when nothing refused it but the maps were created as signed, what the audit\n"
      << "trail holds, and what IPE decided for the first program load, with the verdict it\n"
      << "evaluated. IPE runs the documented BPF policy (`bpf_signature=OK` or `bpf_kernel=TRUE`, else DENY), in\n"
      << "permissive mode unless the scenario says otherwise, so it reports its decision without changing the\n"
      << "outcome. \"not run\": the scenario does not apply to that scheme.\n\n"
      << matrix_markdown(m) << "\n";
  for (const auto& row : m.rows) {
    out << "## " << row.attack << "\n\n" << row.description << " (`" << row.file << "`)\n\n";
    for (const auto& s : m.schemes) {
      auto it = row.cells.find(s);
      if (it != row.cells.end()) out << "- **" << s << "**: " << cell_text(it->second) << "\n";
    }
    out << "\n";
  }
  return out.str();
}

std::string matrix_text(const Matrix& m) {
  std::ostringstream out;
  for (const auto& row : m.rows) {
    out << row.attack << "  (" << row.file << ")\n";
    for (const auto& s : m.schemes) {
      auto it = row.cells.find(s);
      out << "  " << s << ": " << (it == row.cells.end() ? std::string("not run") : cell_text(it->second)) << "\n";
    }
  }
  out << (m.all_held() ? "all expectations held\n" : "some expectations FAILED\n");
  return out.str();
}

std::string matrix_json(const Matrix& m, JsonStyle style) {
  Json rows = Json::array();
  for (const auto& row : m.rows) {
    Json cells = Json::object();
    for (const auto& [scheme, c] : row.cells)
      cells[scheme] = Json{{"detected", c.detected}, {"where", c.where}, {"audit", c.audit}, {"ipe", c.ipe},
                           {"expectations_held", c.expectations_held}};
    rows.push_back(Json{{"attack", row.attack}, {"file", row.file}, {"cells", cells}});
  }
  return json_text(Json{{"ok", m.all_held()}, {"schemes", m.schemes}, {"rows", rows}}, style) + "\n";
}

std::string runs_json(const std::vector<RunResult>& runs, JsonStyle style) {
  Json arr = Json::array();
  bool ok = true;
  for (const auto& run : runs) {
    Json steps = Json::array();
    for (const auto& s : run.steps) steps.push_back(step_json(s));
    ok = ok && run.passed();
    arr.push_back(Json{{"scenario", run.scenario}, {"file", run.file}, {"scheme", run.scheme}, {"kernel", run.kernel},
                       {"lsm", run.lsm}, {"passed", run.passed()}, {"steps", steps}});
  }
  return json_text(Json{{"ok", ok}, {"runs", arr}}, style) + "\n";
}

std::string runs_text(const std::vector<RunResult>& runs) {
  std::ostringstream out;
  for (const auto& run : runs) {
    out << "scenario " << run.scenario << " (" << run.file << "): scheme " << run.scheme << ", kernel " << run.kernel
        << ", lsm=" << run.lsm << "\n";
    for (const auto& s : run.steps) {
      out << "  [" << s.index << "] " << s.kind << (s.target.empty() ? "" : " " + s.target)
          << (s.label.empty() ? "" : " (" + s.label + ")") << ": ";
      if (s.ok) out << "ok";
      else if (s.skipped) out << "skipped: " << s.message;
      else out << "refused at " << s.check << ": " << s.message << " [" << errno_name(s.err) << "]";
      if (s.retval) out << " (loader returned " << *s.retval << ")";
      if (s.maps || s.progs) out << " maps=" << s.maps.value_or(0) << " progs=" << s.progs.value_or(0);
      out << "\n";
      for (const auto& h : s.hooks)
        out << "      hook " << h.hook << " lsm=" << h.lsm << " verdict=" << (h.verdict.empty() ? "-" : h.verdict)
            << " decision=" << h.decision << " errno=" << h.err << "\n";
      for (const auto& line : s.audit) out << "      audit: " << line << "\n";
      for (const auto& f : s.failures) out << "      FAILED: " << f << "\n";
    }
    size_t failed = 0;
    for (const auto& s : run.steps) failed += s.failures.empty() ? 0 : 1;
    out << "  result: " << (run.passed() ? "PASS" : "FAIL") << " (" << run.steps.size() << " steps, " << failed
        << " with a failed expectation)\n";
  }
  return out.str();
}

}  // namespace bpfsig::sim
