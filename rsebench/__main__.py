from rsebench.cli import main

raise SystemExit(main())
