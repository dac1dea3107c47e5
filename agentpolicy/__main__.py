from agentpolicy.cli import main

main()
