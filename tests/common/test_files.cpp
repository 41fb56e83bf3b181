// SPDX-License-Identifier: Apache-2.0
// The file I/O of src/common/files.cpp (issue 14): devices and FIFOs written in
// place, several outputs all or nothing, no other process's temporary file
// removed, the umask and a replaced file's mode kept, non-regular inputs
// refused without blocking, standard input read once and bounded, and a
// command's files checked against each other.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <dirent.h>
#include <algorithm>
#include <future>
#include <set>

#include "bpfsig/error.h"
#include "bpfsig/files.h"
#include "support/support.h"

using namespace bpfsig;

namespace {

std::set<std::string> entries(const std::string& dir) {
  std::set<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  while (struct dirent* e = d ? ::readdir(d) : nullptr)
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.insert(e->d_name);
  if (d) ::closedir(d);
  return out;
}

// Runs f, expecting an Error with this errno and kind; returns its message.
template <class F>
std::string expect_error(F f, int err, const std::string& kind) {
  try {
    f();
    ADD_FAILURE() << "no error, expected " << kind;
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), err) << e.what();
    EXPECT_EQ(e.kind(), kind) << e.what();
    return e.what();
  }
  return "";
}

// Sets the umask for one scope.
struct Umask {
  mode_t old;
  explicit Umask(mode_t m) : old(::umask(m)) {}
  ~Umask() { ::umask(old); }
};

// Makes fd 0 read from a pipe holding text, for one scope.
struct StdinFrom {
  int saved = ::dup(STDIN_FILENO);
  explicit StdinFrom(const std::string& text) {
    int p[2];
    EXPECT_EQ(::pipe(p), 0);
    EXPECT_EQ(::write(p[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::close(p[1]);
    ::dup2(p[0], STDIN_FILENO);
    ::close(p[0]);
  }
  ~StdinFrom() {
    ::dup2(saved, STDIN_FILENO);
    ::close(saved);
  }
};

Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }

// ---- item 1: devices and FIFOs ------------------------------------------------

TEST(FilesOutput, DevNullIsWrittenInPlaceAndStaysACharacterDevice) {
  ASSERT_EQ(test::file_type("/dev/null"), S_IFCHR);
  write_file_atomic("/dev/null", std::string("discarded"));
  EXPECT_EQ(test::file_type("/dev/null"), S_IFCHR);
}

TEST(FilesOutput, FullDeviceReportsEnospcAndIsNotReplaced) {
  if (!test::is_root()) GTEST_SKIP() << "mknod of a character device needs root";
  test::TempDir d;
  const std::string full = d.file("full");  // a private /dev/full: the real one is never at risk
  ASSERT_EQ(::mknod(full.c_str(), S_IFCHR | 0666, ::makedev(1, 7)), 0);
  expect_error([&] { write_file_atomic(full, std::string("x")); }, ENOSPC, "io");
  EXPECT_EQ(test::file_type(full), S_IFCHR);
  EXPECT_EQ(entries(d.path()), std::set<std::string>{"full"});
}

TEST(FilesOutput, FifoIsWrittenInPlace) {
  test::TempDir d;
  const std::string fifo = d.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto reader = std::async(std::launch::async, [&] { return test::read_text(fifo); });
  write_file_atomic(fifo, std::string("through the pipe"));
  EXPECT_EQ(reader.get(), "through the pipe");
  EXPECT_EQ(test::file_type(fifo), S_IFIFO);
}

TEST(FilesOutput, DirectoryAndBlockDeviceAreRefused) {
  test::TempDir d;
  ::mkdir(d.file("dir").c_str(), 0755);
  expect_error([&] { write_file_atomic(d.file("dir"), std::string("x")); }, EISDIR, "output_type");
  if (!test::is_root()) GTEST_SKIP() << "mknod of a block device needs root";
  ASSERT_EQ(::mknod(d.file("blk").c_str(), S_IFBLK | 0600, ::makedev(7, 200)), 0);
  expect_error([&] { write_file_atomic(d.file("blk"), std::string("x")); }, EINVAL, "output_type");
  EXPECT_EQ(test::file_type(d.file("blk")), S_IFBLK);
}

// ---- item 2: all or nothing -------------------------------------------------

TEST(FilesOutput, ASecondOutputInAMissingDirectoryLeavesTheFirstUntouched) {
  test::TempDir d;
  test::write_text(d.file("precious"), "old");
  std::vector<Output> outs{{d.file("precious"), bytes_of("new")}, {d.file("nodir/b"), bytes_of("b")}};
  expect_error([&] { write_outputs(outs); }, ENOENT, "io");
  EXPECT_EQ(test::read_text(d.file("precious")), "old");
  EXPECT_EQ(entries(d.path()), std::set<std::string>{"precious"});
}

TEST(FilesOutput, AFailedPlacementPutsBackTheFilesAlreadyReplaced) {
  test::TempDir d;
  test::write_text(d.file("a"), "old a");
  // Two no-replace outputs to one new name: the second one's link fails after
  // "a" was replaced and "c" was created; both are undone.
  Output a{d.file("a"), bytes_of("new a")};
  Output c1{d.file("c"), bytes_of("c1"), Access::kShared, false};
  Output c2{d.file("c"), bytes_of("c2"), Access::kShared, false};
  expect_error([&] { write_outputs({a, c1, c2}); }, EEXIST, "output_exists");
  EXPECT_EQ(test::read_text(d.file("a")), "old a");
  EXPECT_EQ(entries(d.path()), std::set<std::string>{"a"});  // no backup or temporary file left
}

TEST(FilesOutput, NoReplaceRefusesAnExistingFile) {
  test::TempDir d;
  test::write_text(d.file("key"), "old");
  expect_error([&] { write_outputs({{d.file("key"), bytes_of("new"), Access::kPrivate, false}}); }, EEXIST,
               "output_exists");
  EXPECT_EQ(test::read_text(d.file("key")), "old");
}

// ---- item 4: temporary files ---------------------------------------------------

TEST(FilesOutput, NeverRemovesFilesThatLookLikeTemporaries) {
  test::TempDir d;
  // What the old cleanup deleted: "NAME.tmp.<dead pid>.<8 chars>", and lookalikes.
  const std::vector<std::string> decoys = {"out.bin.tmp.99999999.abcdefgh", "out.bin.tmp.1.zzzzzzzz",
                                           "out.bin.tmp.0123456789abcdef", "out.bin.bak.0123456789abcdef"};
  for (const auto& name : decoys) test::write_text(d.file(name), "user data");
  write_file_atomic(d.file("out.bin"), std::string("x"));
  write_file_atomic(d.file("out.bin"), std::string("y"));
  std::set<std::string> expected(decoys.begin(), decoys.end());
  expected.insert("out.bin");
  EXPECT_EQ(entries(d.path()), expected);
  for (const auto& name : decoys) EXPECT_EQ(test::read_text(d.file(name)), "user data");
}

// ---- item 5: modes -------------------------------------------------------------

TEST(FilesOutput, NewFilesFollowTheUmaskAndKeysAreExactly0600) {
  test::TempDir d;
  {
    Umask u(077);
    write_file_atomic(d.file("a"), std::string("x"));
    EXPECT_EQ(test::file_mode(d.file("a")), 0600u);
  }
  {
    Umask u(022);
    write_file_atomic(d.file("b"), std::string("x"));
    EXPECT_EQ(test::file_mode(d.file("b")), 0644u);
  }
  {
    Umask u(0);
    write_file_atomic(d.file("k"), std::string("x"), Access::kPrivate);
    EXPECT_EQ(test::file_mode(d.file("k")), 0600u);
    write_file_atomic(d.file("c"), std::string("x"));
    EXPECT_EQ(test::file_mode(d.file("c")), 0666u);
  }
}

TEST(FilesOutput, AReplacedFileKeepsItsModeAndAKeyBecomes0600) {
  test::TempDir d;
  Umask u(022);
  test::write_text(d.file("secret"), "old");
  ::chmod(d.file("secret").c_str(), 0600);
  write_file_atomic(d.file("secret"), std::string("new"));
  EXPECT_EQ(test::file_mode(d.file("secret")), 0600u);
  ::chmod(d.file("secret").c_str(), 0640);
  write_file_atomic(d.file("secret"), std::string("newer"));
  EXPECT_EQ(test::file_mode(d.file("secret")), 0640u);
  test::write_text(d.file("key"), "old");
  ::chmod(d.file("key").c_str(), 0644);
  write_file_atomic(d.file("key"), std::string("k"), Access::kPrivate);
  EXPECT_EQ(test::file_mode(d.file("key")), 0600u);
}

TEST(FilesOutput, RootKeepsTheOwnerOfAReplacedFile) {
  if (!test::is_root()) GTEST_SKIP() << "chown to another user needs root";
  test::TempDir d;
  test::write_text(d.file("f"), "old");
  ASSERT_EQ(::chown(d.file("f").c_str(), 12345, 23456), 0);
  write_file_atomic(d.file("f"), std::string("new"));
  struct stat st {};
  ASSERT_EQ(::stat(d.file("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 12345u);
  EXPECT_EQ(st.st_gid, 23456u);
}

// ---- items 9, 13, 14 and the limits: inputs --------------------------------------

TEST(FilesInput, AFifoIsRefusedWithoutBlocking) {
  test::TempDir d;
  ASSERT_EQ(::mkfifo(d.file("fifo").c_str(), 0600), 0);
  auto result = std::async(std::launch::async, [&] {
    return expect_error([&] { read_file(d.file("fifo")); }, EINVAL, "not_regular_file");
  });
  ASSERT_EQ(result.wait_for(std::chrono::seconds(10)), std::future_status::ready) << "open() blocked on the FIFO";
  EXPECT_NE(result.get().find("FIFO"), std::string::npos);
}

TEST(FilesInput, ACharacterDeviceIsRefused) {
  expect_error([] { read_file("/dev/zero"); }, EINVAL, "not_regular_file");
}

TEST(FilesInput, MissingAndDirectoryHaveTheirOwnErrno) {
  test::TempDir d;
  expect_error([&] { read_file(d.file("none")); }, ENOENT, "io");
  expect_error([&] { read_file(d.path()); }, EISDIR, "io");
}

TEST(FilesInput, StdinIsReadOnceByDashOrDevStdin) {
  {
    StdinFrom in("from the pipe");
    Bytes b = read_file("-");
    EXPECT_EQ(std::string(b.begin(), b.end()), "from the pipe");
  }
  {
    StdinFrom in("via /dev/stdin");
    Bytes b = read_file("/dev/stdin");
    EXPECT_EQ(std::string(b.begin(), b.end()), "via /dev/stdin");
  }
}

TEST(FilesInput, StdinStopsBeingReadPastTheLimit) {
  StdinFrom in(std::string(1000, 'x'));
  std::string msg = expect_error([] { read_file("-", 100); }, EFBIG, "input_too_large");
  EXPECT_NE(msg.find("stdin"), std::string::npos) << msg;
}

TEST(FilesInput, AnOversizedFileIsRefusedBeforeItIsRead) {
  test::TempDir d;
  // Sparse: 300 MiB that take no space; refused from its size alone.
  int fd = ::open(d.file("big").c_str(), O_WRONLY | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, off_t{300} << 20), 0);
  ::close(fd);
  InputFile in(d.file("big"));
  expect_error([&] { in.read_all(size_t{256} << 20); }, EFBIG, "input_too_large");
  // Nothing was consumed: the descriptor's offset is still 0.
  EXPECT_EQ(in.peek(4), Bytes(4, 0));
}

// ---- item 3: a command's files ----------------------------------------------------

TEST(CommandFiles, AnOutputThatIsAnInputIsRefused) {
  test::TempDir d;
  test::write_text(d.file("k.pem"), "key");
  ASSERT_EQ(::link(d.file("k.pem").c_str(), d.file("hard.pem").c_str()), 0);
  ASSERT_EQ(::symlink(d.file("k.pem").c_str(), d.file("sym.pem").c_str()), 0);
  for (const std::string& out : {d.file("k.pem"), d.file("hard.pem"), d.file("sym.pem"), d.path() + "/./k.pem"}) {
    std::string msg =
        expect_error([&] { check_command_files({{"-k", d.file("k.pem")}}, {{"-o", out}}); }, EINVAL, "output_is_input");
    EXPECT_NE(msg.find("-k"), std::string::npos) << msg;
  }
  check_command_files({{"-k", d.file("k.pem")}}, {{"-o", d.file("other")}});  // fine
}

TEST(CommandFiles, TwoOutputsToOneFileAreRefusedEvenWhenNew) {
  test::TempDir d;
  ::mkdir(d.file("sub").c_str(), 0755);
  ASSERT_EQ(::symlink(d.file("sub").c_str(), d.file("link").c_str()), 0);
  expect_error([&] { check_command_files({}, {{"-o", d.file("f")}, {"--header", d.file("sub/../f")}}); }, EINVAL,
               "output_conflict");
  expect_error([&] { check_command_files({}, {{"-o", d.file("sub/n")}, {"--header", d.file("link/n")}}); }, EINVAL,
               "output_conflict");
  expect_error([&] { check_command_files({}, {{"-o", "-"}, {"--header", "-"}}); }, EINVAL, "output_conflict");
  check_command_files({{"FILE", "-"}}, {{"-o", "-"}});  // stdin in, stdout out: fine
  check_command_files({{"FILE", ""}}, {{"-o", ""}, {"--header", ""}});  // options not given
}

TEST(CommandFiles, StdinForTwoInputsIsRefused) {
  expect_error([] { check_command_files({{"-i", "-"}, {"FILE", "-"}}, {}); }, EINVAL, "stdin_twice");
  StdinFrom in("x");
  expect_error([] { check_command_files({{"-i", "/dev/stdin"}, {"FILE", "-"}}, {}); }, EINVAL, "stdin_twice");
}

}  // namespace

TEST(FilesInputContents, ALargeFileIsMappedAndHoldsItsBytes) {
  test::TempDir dir;
  const Bytes content = test::patterned(size_t{3} << 20);
  write_file_atomic(dir.file("big"), content);
  InputFile in(dir.file("big"));
  InputFile::Contents c = in.read_contents(size_t{64} << 20);
  EXPECT_TRUE(c.mapped());
  EXPECT_TRUE(std::equal(c.bytes().begin(), c.bytes().end(), content.begin(), content.end()));
}

TEST(FilesInputContents, ASmallFileIsReadIntoABuffer) {
  test::TempDir dir;
  const Bytes content = test::patterned(4096);
  write_file_atomic(dir.file("small"), content);
  InputFile in(dir.file("small"));
  InputFile::Contents c = in.read_contents(1 << 20);
  EXPECT_FALSE(c.mapped());
  EXPECT_TRUE(std::equal(c.bytes().begin(), c.bytes().end(), content.begin(), content.end()));
}

// The hostile case: the file is truncated and rewritten after it was read.
// A shared map would raise SIGBUS at the first byte past the new end; the
// private copy keeps the bytes as they were read.
TEST(FilesInputContents, TruncatingOrRewritingTheFileAfterwardsChangesNothingRead) {
  test::TempDir dir;
  const Bytes content = test::patterned(size_t{2} << 20);
  write_file_atomic(dir.file("big"), content);
  InputFile in(dir.file("big"));
  InputFile::Contents c = in.read_contents(size_t{64} << 20);
  ASSERT_TRUE(c.mapped());
  {
    const int fd = ::open(dir.file("big").c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::ftruncate(fd, 100), 0);
    const Bytes other(100, 0xee);
    ASSERT_EQ(::pwrite(fd, other.data(), other.size(), 0), 100);
    ::close(fd);
  }
  EXPECT_TRUE(std::equal(c.bytes().begin(), c.bytes().end(), content.begin(), content.end()));
}

TEST(FilesInputContents, MovedContentsKeepTheirBytes) {
  test::TempDir dir;
  const Bytes small = test::patterned(100), large = test::patterned(size_t{1} << 20);
  write_file_atomic(dir.file("small"), small);
  write_file_atomic(dir.file("large"), large);
  InputFile a(dir.file("small")), b(dir.file("large"));
  InputFile::Contents moved_small = a.read_contents(1 << 21);
  InputFile::Contents moved_large = b.read_contents(1 << 21);
  InputFile::Contents x(std::move(moved_small)), y(std::move(moved_large));
  EXPECT_TRUE(std::equal(x.bytes().begin(), x.bytes().end(), small.begin(), small.end()));
  EXPECT_TRUE(std::equal(y.bytes().begin(), y.bytes().end(), large.begin(), large.end()));
  EXPECT_TRUE(moved_small.bytes().empty());
}

TEST(FilesInputContents, AFileOverTheLimitIsRefusedBeforeItIsRead) {
  test::TempDir dir;
  write_file_atomic(dir.file("big"), test::patterned(size_t{2} << 20));
  InputFile in(dir.file("big"));
  try {
    in.read_contents(size_t{1} << 20);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.err(), EFBIG);
    EXPECT_EQ(e.kind(), "input_too_large");
  }
}

// ---- outputs written as they are produced ------------------------------------

TEST(FilesOutput, AProducedOutputIsWhatItsProducerHandsOver) {
  test::TempDir d;
  std::string expected;
  for (int i = 0; i < 1000; ++i) expected += "piece " + std::to_string(i) + "\n";
  write_outputs({produced_output(d.file("out"), [](const std::function<void(ByteView)>& put) {
    for (int i = 0; i < 1000; ++i) {
      const std::string piece = "piece " + std::to_string(i) + "\n";
      put(ByteView(reinterpret_cast<const uint8_t*>(piece.data()), piece.size()));
    }
  })});
  EXPECT_EQ(test::read_text(d.file("out")), expected);
}

TEST(FilesOutput, AProducerThatFailsMidwayChangesNothing) {
  test::TempDir d;
  test::write_text(d.file("out"), "old");
  test::write_text(d.file("other"), "old other");
  auto failing = [](const std::function<void(ByteView)>& put) {
    const uint8_t some[4096] = {1};
    put(ByteView(some, sizeof some));
    throw Error(EIO, "test", "the producer failed after its first piece");
  };
  try {
    write_outputs({Output{d.file("other"), Bytes{'n', 'e', 'w'}}, produced_output(d.file("out"), failing)});
    FAIL() << "the producer's error was lost";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), "test");
  }
  EXPECT_EQ(test::read_text(d.file("out")), "old");
  EXPECT_EQ(test::read_text(d.file("other")), "old other");
  EXPECT_EQ(entries(d.path()), (std::set<std::string>{"out", "other"}));  // no temporary left behind
}

// ---- symbolic links and standard output ---------------------------------------

// An output path that is a symbolic link: the file it leads to gets the new
// content, and the link stays a link (a link is never replaced by a file).
TEST(FilesOutput, ASymlinkedOutputReplacesWhereTheLinkLeads) {
  test::TempDir d;
  ::mkdir(d.file("real").c_str(), 0755);
  test::write_text(d.file("real/out"), "old");
  ASSERT_EQ(::symlink("real/out", d.file("link").c_str()), 0);
  write_file_atomic(d.file("link"), std::string("new"));
  struct stat st {};
  ASSERT_EQ(::lstat(d.file("link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(test::read_text(d.file("real/out")), "new");
  EXPECT_EQ(entries(d.path()), (std::set<std::string>{"link", "real"}));
  EXPECT_EQ(entries(d.file("real")), std::set<std::string>{"out"});
}

// /dev/stdout with standard output redirected to a regular file: the output
// is written on standard output, in place. Staging it beside the path replaced
// /dev's own /dev/stdout link with a regular file.
TEST(FilesOutput, DevStdoutRedirectedToAFileIsWrittenThroughStandardOutput) {
  test::TempDir d;
  const std::string redirected = d.file("redirected");
  std::fflush(stdout);
  const int saved = ::dup(STDOUT_FILENO);
  ASSERT_GE(saved, 0);
  const int fd = ::open(redirected.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ::dup2(fd, STDOUT_FILENO);
  ::close(fd);
  std::string error;
  bool stdout_named = false;
  try {
    stdout_named = writes_stdout("/dev/stdout");
    write_file_atomic("/dev/stdout", std::string("through stdout\n"));
  } catch (const Error& e) {
    error = e.what();
  }
  std::fflush(stdout);
  ::dup2(saved, STDOUT_FILENO);
  ::close(saved);
  EXPECT_EQ(error, "");
  EXPECT_TRUE(stdout_named);
  EXPECT_EQ(test::read_text(redirected), "through stdout\n");
  struct stat st {};
  ASSERT_EQ(::lstat("/dev/stdout", &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << "/dev/stdout is no longer a symbolic link";
}
