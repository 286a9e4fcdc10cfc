import type { Command } from 'commander';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('a self-contained demonstration of moat (what `npm start` runs)')
    .action(() => {
      process.stdout.write(
        [
          'moat demo: not available yet.',
          'The demo runs a sandboxed client that fetches a page by name through moat\'s own TCP/IP stack,',
          'from a web server and a DNS server in a local network namespace. It needs:',
          '  - the netstack (IP, ARP/NDP, UDP, TCP)          [in progress]',
          '  - the sandbox (`moat run`: seccomp supervisor)   [not started]',
          'What works today: `moat decode FILE.pcap` (see README.md, "Features").',
          '',
        ].join('\n'),
      );
    });
}
