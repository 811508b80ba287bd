/*
 * console_events: runs a program and sends it console control events, as a user pressing
 * Ctrl-C or Ctrl-Break in its console would.
 *
 *     console_events.exe c|break CUE... -- PROGRAM [ARGUMENT...]
 *
 * The program's standard output is read line by line and copied to ours. Each CUE is the
 * start of a line: when the program prints it (the cues are awaited in order), one event is
 * sent. Then the program's output is copied until it ends, and console_events exits with the
 * program's exit code, or with one of its own (201 to 205, below) if it could not do its part,
 * so that a failure of the launcher is not taken for one of the program (whose codes the
 * tests know: none is above 130).
 *
 * Events reach processes through their console, by process group: GenerateConsoleCtrlEvent
 * sends Ctrl-Break to a process group, and Ctrl-C only to group 0 (every process on the
 * console: a program started in a new group ignores Ctrl-C). So with `break` the program is
 * started in a new process group (CREATE_NEW_PROCESS_GROUP), and the event goes to that group;
 * with `c` it shares our group, the event goes to group 0, and our own handler swallows it.
 */
#include <stdio.h>
#include <string.h>
#include <windows.h>

enum {
    USAGE = 201,        /* bad arguments */
    NO_CONSOLE = 202,   /* no console to send events through, and none could be made */
    START = 203,        /* the program could not be started */
    SEND = 204,         /* GenerateConsoleCtrlEvent failed */
    CUE_MISSED = 205,   /* the program's output ended before every cue was seen */
};

/* Ctrl-C sent to group 0 reaches this process too: handled here, it does not end it. */
static BOOL WINAPI swallow(DWORD event)
{
    return event == CTRL_C_EVENT;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: console_events c|break CUE... -- PROGRAM [ARGUMENT...]\n");
        return USAGE;
    }
    DWORD event;
    if (strcmp(argv[1], "c") == 0) {
        event = CTRL_C_EVENT;
    } else if (strcmp(argv[1], "break") == 0) {
        event = CTRL_BREAK_EVENT;
    } else {
        fprintf(stderr, "console_events: unknown event %s (expected c or break)\n", argv[1]);
        return USAGE;
    }
    int separator = 2;
    while (separator < argc && strcmp(argv[separator], "--") != 0) {
        separator++;
    }
    if (separator + 1 >= argc) {
        fprintf(stderr, "console_events: no program after --\n");
        return USAGE;
    }
    char **cues = argv + 2;
    int cue_count = separator - 2;

    /* The command line: the arguments after `--`, joined by spaces (none of ours has one). */
    char command[4096] = "";
    for (int i = separator + 1; i < argc; i++) {
        if (strlen(command) + strlen(argv[i]) + 2 > sizeof command) {
            fprintf(stderr, "console_events: command line too long\n");
            return USAGE;
        }
        if (i > separator + 1) {
            strcat(command, " ");
        }
        strcat(command, argv[i]);
    }

    /* The program's stderr is ours, as we were started: AllocConsole below points the
     * process's standard handles at the new console. */
    HANDLE input = GetStdHandle(STD_INPUT_HANDLE);
    HANDLE error = GetStdHandle(STD_ERROR_HANDLE);

    /* Events travel through a console, which the program inherits: a console of our own, made
     * now (a process started without a terminal, as a CI job is, has none that can carry
     * events). */
    FreeConsole();
    if (!AllocConsole()) {
        fprintf(stderr, "console_events: AllocConsole failed: error %lu\n", GetLastError());
        return NO_CONSOLE;
    }
    if (!SetConsoleCtrlHandler(swallow, TRUE)) {
        fprintf(stderr, "console_events: SetConsoleCtrlHandler failed: error %lu\n",
                GetLastError());
        return NO_CONSOLE;
    }

    SECURITY_ATTRIBUTES inherit = {sizeof inherit, NULL, TRUE};
    HANDLE read_end, write_end;
    if (!CreatePipe(&read_end, &write_end, &inherit, 0)
        || !SetHandleInformation(read_end, HANDLE_FLAG_INHERIT, 0)) {
        fprintf(stderr, "console_events: CreatePipe failed: error %lu\n", GetLastError());
        return START;
    }
    STARTUPINFOA startup = {0};
    startup.cb = sizeof startup;
    startup.dwFlags = STARTF_USESTDHANDLES;
    startup.hStdInput = input;
    startup.hStdOutput = write_end;
    startup.hStdError = error;
    PROCESS_INFORMATION process;
    DWORD flags = event == CTRL_BREAK_EVENT ? CREATE_NEW_PROCESS_GROUP : 0;
    if (!CreateProcessA(NULL, command, NULL, NULL, TRUE, flags, NULL, NULL, &startup, &process)) {
        fprintf(stderr, "console_events: cannot start %s: error %lu\n", command, GetLastError());
        return START;
    }
    CloseHandle(write_end);
    /* A new group's id is the id of its first process. */
    DWORD group = event == CTRL_BREAK_EVENT ? process.dwProcessId : 0;

    /* Copy the output line by line; send an event at each cue. */
    char line[4096];
    size_t length = 0;
    int next_cue = 0;
    char byte;
    DWORD got;
    while (ReadFile(read_end, &byte, 1, &got, NULL) && got == 1) {
        if (byte != '\n' && length + 1 < sizeof line) {
            line[length++] = byte;
            continue;
        }
        line[length] = '\0';
        if (length > 0 && line[length - 1] == '\r') {
            line[--length] = '\0';
        }
        printf("%s\n", line);
        fflush(stdout);
        if (next_cue < cue_count && strncmp(line, cues[next_cue], strlen(cues[next_cue])) == 0) {
            if (!GenerateConsoleCtrlEvent(event, group)) {
                fprintf(stderr, "console_events: GenerateConsoleCtrlEvent(%s, %lu) failed: error %lu\n",
                        argv[1], group, GetLastError());
                TerminateProcess(process.hProcess, 1);
                return SEND;
            }
            fprintf(stderr, "console_events: sent %s to group %lu after \"%s\"\n", argv[1], group,
                    cues[next_cue]);
            next_cue++;
        }
        length = 0;
    }
    WaitForSingleObject(process.hProcess, INFINITE);
    DWORD code;
    GetExitCodeProcess(process.hProcess, &code);
    fprintf(stderr, "console_events: the program exited with code %lu (0x%lx)\n", code, code);
    if (next_cue < cue_count) {
        fprintf(stderr, "console_events: the program ended (exit code %lu) before printing \"%s\"\n",
                code, cues[next_cue]);
        return CUE_MISSED;
    }
    return (int)code;
}
