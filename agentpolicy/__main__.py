from agentpolicy.cli.group import main

main()
