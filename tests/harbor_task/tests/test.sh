#!/bin/bash
# The reward is 1 only when add() really adds: run by Harbor's verifier in the task container.
cd /app
if python3 -c 'from calc import add; assert add(2, 3) == 5 and add(-1, 1) == 0'; then
    echo 1 > /logs/verifier/reward.txt
else
    echo 0 > /logs/verifier/reward.txt
fi
