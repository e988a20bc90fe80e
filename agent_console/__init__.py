"""Web consoles for staff: operator workspace, department workbench, supervisor views."""
