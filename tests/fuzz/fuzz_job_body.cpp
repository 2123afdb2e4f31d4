// Job submission bodies: POST /v1/jobs, through reamd's own handler.
//
// A real api::App is opened once in a temporary folder (SQLite store, the shipped
// workflows and plugins, documents.allowed_roots = /tmp/ream-fuzz-job-docs, a fixed folder
// the seeds can name, holding a text file, Markdown, an HTML page, a PDF and a small
// source tree), without an engine: jobs are queued and their steps never run.
// Each input is the body of a POST /v1/jobs request handed to the route's handler, as the
// HTTP server would (body parsing, fields, the workflow's inputs and their types, document
// paths through the path policy, uploads by id, inline documents, the store).
// Any answer below 500 is fine; a 5xx (but 503) means bad input reached an internal error,
// and an exception escaping the handler would have been a 500 too. An accepted job's
// documents are then read as a runner reads them at the job's first run
// (flow::read_documents under the App's path policy, Store::attach_documents): a store
// error there, or a job whose documents stop it without saying why, is a finding. Every few hundred
// accepted jobs the App is closed and a fresh one opened, so the store stays small.
#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "api/app.h"
#include "api/routes.h"
#include "flow/job.h"
#include "flow/paths.h"
#include "fuzz_util.h"
#include "make_pdf.h"

namespace {

using namespace ream;
namespace fs = std::filesystem;

constexpr int kJobsPerApp = 500;
constexpr const char* kDocsRoot = "/tmp/ream-fuzz-job-docs";

// Writes `data` to `path` unless it is there (several fuzzing processes may share the folder).
void put(const std::string& path, std::string_view data) {
  std::error_code ec;
  if (fs::exists(path, ec)) return;
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  fuzz::write_file(tmp, data);
  fs::rename(tmp, path, ec);
}

void make_documents(const std::string& root) {
  fs::create_directories(root + "/tree/src");
  put(root + "/contract.txt",
                   "MASTER SERVICES AGREEMENT\n\n1. Term. This Agreement begins on the Effective Date.\n"
                   "2. Governing Law. The laws of the State of Delaware govern this Agreement.\n");
  put(root + "/notes.md", "# Notes\n\n- renewal is automatic\n- notice: 30 days\n");
  put(root + "/filing.html",
                   "<html><body><h1>Annual Report</h1><p>Revenue was $1,234 million.</p>"
                   "<table><tr><td>2024</td><td>1,234</td></tr></table></body></html>");
  put(root + "/report.pdf",
                   ingest::testing::make_pdf({{"Page one: the term is two years."}, {"Page two."}}));
  put(root + "/tree/.gitignore", "*.log\nbuild/\n");
  put(root + "/tree/src/main.c", "#include <stdio.h>\nint main(void) { return 0; }\n");
  put(root + "/tree/src/util.py", "def add(a, b):\n    return a + b\n");
  put(root + "/tree/debug.log", "noise\n");
}

struct Harness {
  std::unique_ptr<api::App> app;
  http::Router router;
  int accepted = 0;
  int generation = 0;

  Harness() {
    fuzz::quiet_logs();
    make_documents(kDocsRoot);
    keep_plugins_loaded();
    open();
  }

  // Each App loads the plugins (dlopen) and unloads them when it closes; libFuzzer keeps
  // reading the coverage counters of every library it saw loaded, so an unloaded plugin
  // would be a SEGV inside libFuzzer at the next input. One more handle on each, never
  // closed, keeps them mapped across the Apps.
  static void keep_plugins_loaded() {
    std::error_code ec;
    for (const std::string& dir : flow::default_plugin_dirs()) {
      for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (e.path().extension() == ".so") (void)dlopen(e.path().c_str(), RTLD_NOW | RTLD_LOCAL);
      }
    }
  }

  void open() {
    router = http::Router();
    app.reset();
    const std::string data = fuzz::temp_dir() + "/data";
    std::error_code ec;
    fs::remove_all(data, ec);
    config::Config c = config::default_config();
    c.data_dir = data;
    c.http.host = "127.0.0.1";
    c.http.port = 0;
    c.http.io_threads = 1;
    c.http.handler_threads = 1;
    c.allowed_roots = {kDocsRoot};
    c.max_queued = 1 << 30;
    c.schedules_enabled = false;
    c.auth_mode = "disabled";
    app = std::make_unique<api::App>(c);
    if (Status st = app->open(); !st.ok()) fuzz::fail("App::open: " + st.message());
    fuzz::check(!app->catalog()->workflows.empty(), "no workflows in the catalog");
    api::add_job_routes(router, *app);
    ++generation;
    accepted = 0;
  }

  http::Response submit(std::string_view body) {
    http::Request req;
    req.method = "POST";
    req.target = req.path = "/v1/jobs";
    req.headers = {{"content-type", "application/json"}};
    req.body = std::string(body);
    req.request_id = "fuzz";
    http::Match m = router.match(req);
    fuzz::check(m.route != nullptr, "no POST /v1/jobs route");
    return m.route->handler(req);
  }

  // What a runner does first with the job a 202 answered: reads its pending documents.
  void read_documents(const http::Response& r) {
    auto reply = nlohmann::json::parse(r.body, nullptr, false);
    fuzz::check(reply.is_object() && reply.value("id", nlohmann::json()).is_number_integer(), "202 without a job id: " + r.body);
    const int64_t id = reply["id"];
    store::Store& store = app->store();
    auto job = store.get_job(id);
    fuzz::check(job.ok(), "the accepted job cannot be read: " + job.status().message());
    if (job->pending_documents.empty()) return;  // a replay, or a workflow without documents
    auto unread = flow::parse_unread(job->pending_documents);
    fuzz::check(unread.ok(), unread.ok() ? "" : unread.status().message());
    auto catalog = app->catalog();
    auto workflow = catalog->workflows.find(job->workflow_name);
    fuzz::check(workflow != catalog->workflows.end(), "no workflow " + job->workflow_name);
    auto inputs = nlohmann::json::parse(job->inputs_json, nullptr, false);
    auto read = flow::read_documents(store, *workflow->second, inputs, *unread, nullptr, app->document_paths());
    fuzz::check(read.ok(), read.ok() ? "" : "reading the documents: " + read.status().message());
    fuzz::check(read->stop.ok() || !read->stop.message().empty(), "documents stop the job without a reason");
    Status attached = store.attach_documents(id, "", read->inputs.dump(), read->documents, read->events);
    fuzz::check(attached.ok(), attached.message());
  }
};

Harness& harness() {
  static Harness* h = new Harness();
  return *h;
}

}  // namespace

// The slow set-up (loading the tokenizer, a catalog, an App, a server) happens here, before
// libFuzzer starts timing inputs.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)harness();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Harness& h = harness();
  http::Response r = h.submit(fuzz::bytes(data, size));
  if (r.status >= 500 && r.status != 503) fuzz::fail("POST /v1/jobs answered " + std::to_string(r.status) + ": " + r.body);
  if (r.status == 202) h.read_documents(r);
  if (r.status == 202 && ++h.accepted >= kJobsPerApp) h.open();
  return 0;
}
